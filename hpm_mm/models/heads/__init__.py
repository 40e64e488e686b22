from .hpm_feature_head import HPMFeatureHead
from .hpm_head import HPMHead
from .loss_prediction_mixin import LossPredictionMixin

__all__ = ['HPMHead', 'HPMFeatureHead', 'LossPredictionMixin']
