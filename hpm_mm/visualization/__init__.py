from .hard_patches import HardPatchResult, mine_hard_patches, plot_hard_patches
from .training_curves import plot_training_curves

__all__ = [
    'HardPatchResult', 'mine_hard_patches', 'plot_hard_patches',
    'plot_training_curves'
]
