from .loading import CheckedLoadImageFromFile, image_bytes_problem

__all__ = ['CheckedLoadImageFromFile', 'image_bytes_problem']
