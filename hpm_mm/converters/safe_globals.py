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
readers for each read (:func:`allowed_globals`).

torch's own ``safe_globals`` context manager removes its globals on exit
even when they were allowed before it was entered, so a read inside a run
would take the run's allow-list away; :func:`add_missing` and
:func:`remove_added` add and remove only what was not there.
"""
import pickle
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Tuple, Union

import numpy as np
import torch

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


def add_missing(safe_globals: List[SafeGlobal]) -> List[SafeGlobal]:
    """Allow those of ``safe_globals`` torch does not allow yet.

    Returns:
        list: The ones added (for :func:`remove_added`).
    """
    present = torch.serialization.get_safe_globals()
    added = [g for g in safe_globals if g not in present]
    torch.serialization.add_safe_globals(added)
    return added


def remove_added(added: List[SafeGlobal]) -> None:
    """Take back what :func:`add_missing` added, and nothing else."""
    if not added:
        return
    kept = [g for g in torch.serialization.get_safe_globals()
            if g not in added]
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(kept)


@contextmanager
def allowed_globals(safe_globals: List[SafeGlobal]) -> Iterator[None]:
    """``torch.serialization.safe_globals`` that leaves what was allowed
    before it allowed afterwards."""
    added = add_missing(safe_globals)
    try:
        yield
    finally:
        remove_added(added)


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
