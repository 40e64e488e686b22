"""Helpers of the HPM model: its teacher, compile-friendly drop path."""
from mmcv.cnn.bricks.drop import DropPath
from torch import nn

from .teacher_ema import HPMTeacherEMA, parameters_to_buffers

__all__ = ['HPMTeacherEMA', 'float_drop_path_probs', 'parameters_to_buffers']


def float_drop_path_probs(module: nn.Module) -> nn.Module:
    """Turn every :class:`DropPath` probability into a Python float.

    mmpretrain's ViTs take each block's stochastic-depth rate from
    ``np.linspace``, so ``drop_prob`` is a NumPy scalar; TorchDynamo traces
    NumPy scalars as tensors, and ``drop_prob == 0.`` in mmcv's
    ``drop_path`` then becomes a data-dependent branch: one graph break per
    block. As a float the branch is resolved at trace time. Same values,
    same maths.

    Args:
        module (nn.Module): Modified in place.

    Returns:
        nn.Module: ``module``.
    """
    for m in module.modules():
        if isinstance(m, DropPath):
            m.drop_prob = float(m.drop_prob)
    return module
