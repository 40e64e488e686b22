"""Work-arounds for known breakages of the pinned OpenMMLab stack.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True`` and resuming an mmengine checkpoint
fails on the objects its meta holds (``HistoryBuffer``, numpy arrays and
scalars, and ``getattr(HistoryBuffer, 'min')``-style references to its
statistics methods). Rather than switching the safe unpickler off, the few
types an mmengine checkpoint legitimately contains are added to torch's
allow-list, and ``getattr`` is replaced, for the unpickler only, by a
version that returns nothing but those statistics methods; a checkpoint
still cannot run arbitrary code.
"""
import pickle
from typing import Any

import numpy as np
import torch


def _numpy_globals() -> list:
    """Numpy types that pickled arrays and scalars reference."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    found = [_reconstruct, scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return found


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as the unpickler may call it: HistoryBuffer methods only."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}): refused, only '
        'HistoryBuffer statistics methods are allowed')


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 does not load weights-only by default
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the built-in statistics methods
    add([HistoryBuffer] + _numpy_globals() +
        [(_history_buffer_getattr, 'builtins.getattr')])
