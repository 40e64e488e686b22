from .hard_patches import plot_hard_patches
from .training_curves import plot_training_curves

__all__ = ['plot_hard_patches', 'plot_training_curves']
