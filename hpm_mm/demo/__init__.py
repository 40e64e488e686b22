from .sample_dataset import SAMPLE_IMAGES, build_sample_imagenet

__all__ = ['SAMPLE_IMAGES', 'build_sample_imagenet']
