from .sample_dataset import build_sample_imagenet, load_sample_photo

__all__ = ['build_sample_imagenet', 'load_sample_photo']
