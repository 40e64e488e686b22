"""The allow-list that lets weights-only loading read mmengine checkpoints.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True``, and resuming an mmengine checkpoint
fails on the objects its meta and message hub hold (``HistoryBuffer``,
numpy arrays and scalars, and ``getattr(HistoryBuffer, 'min')``-style
references to its statistics methods). Rather than switching the safe
unpickler off, the few types such a checkpoint legitimately contains are
allowed, and ``getattr`` is replaced, for the unpickler only, by a version
that returns nothing but those statistics methods; a checkpoint still
cannot run code.

Nothing is installed on import. :class:`~hpm_mm.engine.hooks.
CheckpointSafeGlobalsHook` installs the list for the duration of a
Runner's run (before it loads or resumes), and hpm_mm's own checkpoint
readers pass it to ``torch.serialization.safe_globals`` themselves.
"""
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np

SafeGlobal = Union[Callable, Tuple[Callable, str]]


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


def mmengine_safe_globals() -> List[SafeGlobal]:
    """What ``torch.load(weights_only=True)`` needs for mmengine checkpoints.

    Use it scoped, ``with torch.serialization.safe_globals(
    mmengine_safe_globals()): torch.load(path, weights_only=True)``, or
    let :class:`~hpm_mm.engine.hooks.CheckpointSafeGlobalsHook` install it
    for a Runner.

    Returns:
        list: ``HistoryBuffer``, the numpy array/scalar/dtype types, and
        ``(restricted getattr, 'builtins.getattr')``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the built-in statistics methods
    return [HistoryBuffer] + _numpy_globals() + [
        (_history_buffer_getattr, 'builtins.getattr')
    ]
