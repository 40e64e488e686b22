from .sample_dataset import build_sample_imagenet, load_sample_photo
from .schedule import shrink_schedule

__all__ = ['build_sample_imagenet', 'load_sample_photo', 'shrink_schedule']
