from .figures import (mask_overlay, plot_hard_patches, plot_training_curves,
                      read_scalars)
from .video import TUBE_PANELS, draw_hard_tubes, plot_hard_tubes

__all__ = [
    'mask_overlay', 'plot_hard_patches', 'plot_training_curves',
    'read_scalars', 'TUBE_PANELS', 'draw_hard_tubes', 'plot_hard_tubes'
]
