from hpm_mm.apis import HardPatchResult

from .hard_patches import plot_hard_patches
from .training_curves import plot_training_curves

__all__ = ['HardPatchResult', 'plot_hard_patches', 'plot_training_curves']
