from .feature_targets import (CLIPFeatureTarget, DINOFeatureTarget,
                              EMAFeatureTarget, FeatureTarget,
                              FrozenNetworkTarget)

__all__ = [
    'FeatureTarget', 'FrozenNetworkTarget', 'CLIPFeatureTarget',
    'DINOFeatureTarget', 'EMAFeatureTarget'
]
