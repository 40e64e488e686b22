"""HPM model components, registered in mmpretrain's ``MODELS``."""
from .algorithms import HPM
from .backbones import HPMViT
from .heads import HPMFeatureHead, HPMHead
from .losses import LossPredictionLoss
from .maskers import HardPatchMasker
from .necks import HPMDecoder
from .targets import CLIPFeatureTarget, DINOFeatureTarget, EMAFeatureTarget
from .utils import HPMTeacherEMA

__all__ = [
    'HPM', 'HPMViT', 'HPMDecoder', 'HPMHead', 'HPMFeatureHead',
    'LossPredictionLoss', 'HardPatchMasker', 'HPMTeacherEMA',
    'CLIPFeatureTarget', 'DINOFeatureTarget', 'EMAFeatureTarget'
]
