"""HPM model components, registered in mmpretrain's ``MODELS``."""
from .algorithms import HPM
from .backbones import HPMViT
from .heads import HPMHead
from .losses import LossPredictionLoss
from .maskers import HardPatchMasker
from .necks import HPMDecoder
from .utils import HPMTeacherEMA

__all__ = [
    'HPM', 'HPMViT', 'HPMDecoder', 'HPMHead', 'LossPredictionLoss',
    'HardPatchMasker', 'HPMTeacherEMA'
]
