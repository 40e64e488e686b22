"""Data pipeline pieces, registered in mmpretrain's ``TRANSFORMS``, and the
dataset check of ``tools/check_dataset.py``."""
from .image_check import ImageCheckReport, check_images, loader_args
from .transforms import CheckedLoadImageFromFile, read_image

__all__ = [
    'CheckedLoadImageFromFile', 'ImageCheckReport', 'check_images',
    'loader_args', 'read_image'
]
