"""Helpers of the HPM model: its teacher, compile-friendly drop path."""
from mmcv.cnn.bricks.drop import DropPath
from torch import nn

from .teacher_ema import HPMTeacherEMA, parameters_to_buffers

__all__ = ['HPMTeacherEMA', 'float_drop_path_probs', 'parameters_to_buffers']


def float_drop_path_probs(module: nn.Module) -> nn.Module:
    """Turn every :class:`DropPath` probability into a Python float.

    mmpretrain's ViTs take the rates from ``np.linspace``; TorchDynamo
    traces a NumPy scalar as a tensor, so ``drop_prob == 0.`` in mmcv's
    ``drop_path`` breaks the graph in every block. Same values; ``module``
    is changed in place and returned.
    """
    for m in module.modules():
        if isinstance(m, DropPath):
            m.drop_prob = float(m.drop_prob)
    return module
