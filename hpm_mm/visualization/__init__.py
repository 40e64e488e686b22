from .figures import plot_hard_patches, plot_training_curves, read_scalars

__all__ = ['plot_hard_patches', 'plot_training_curves', 'read_scalars']
