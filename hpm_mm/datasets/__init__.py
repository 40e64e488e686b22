"""Data pipeline pieces, registered in mmpretrain's ``TRANSFORMS``."""
from .transforms import CheckedLoadImageFromFile, read_image

__all__ = ['CheckedLoadImageFromFile', 'read_image']
