from .base import FeatureTarget, FrozenNetworkTarget
from .clip_target import CLIPFeatureTarget
from .dino_target import DINOFeatureTarget
from .ema_target import EMAFeatureTarget

__all__ = [
    'FeatureTarget', 'FrozenNetworkTarget', 'CLIPFeatureTarget',
    'DINOFeatureTarget', 'EMAFeatureTarget'
]
