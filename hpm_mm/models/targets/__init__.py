from .base import EMAFeatureTarget, FeatureTarget, FrozenNetworkTarget
from .clip_target import CLIPFeatureTarget
from .dino_target import DINOFeatureTarget

__all__ = [
    'FeatureTarget', 'FrozenNetworkTarget', 'CLIPFeatureTarget',
    'DINOFeatureTarget', 'EMAFeatureTarget'
]
