from .loading import CheckedLoadImageFromFile, image_bytes_problem, read_image

__all__ = ['CheckedLoadImageFromFile', 'image_bytes_problem', 'read_image']
