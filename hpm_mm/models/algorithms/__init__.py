from .hpm import HPM, LOSS_PHASES

__all__ = ['HPM', 'LOSS_PHASES']
