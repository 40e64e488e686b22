"""Data pipeline pieces, registered in mmpretrain's ``TRANSFORMS``."""
from .transforms import CheckedLoadImageFromFile

__all__ = ['CheckedLoadImageFromFile']
