"""Image loading that names the file of a bad image (mmpretrain's
``TRANSFORMS``)."""
from .loading import CheckedLoadImageFromFile, read_image

__all__ = ['CheckedLoadImageFromFile', 'read_image']
