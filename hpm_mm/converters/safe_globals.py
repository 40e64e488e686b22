"""The allow-list that lets weights-only loading read mmengine checkpoints.

``torch.load`` (weights-only since torch 2.6, and mmengine 0.10.7 does not
say otherwise) refuses what an mmengine checkpoint's meta and message hub
hold: ``HistoryBuffer``, numpy arrays and scalars, and
``getattr(HistoryBuffer, 'min')``-style references. Those are allowed, with
a ``getattr`` that returns nothing but the statistics methods: a checkpoint
still cannot run code. ``CheckpointSafeGlobalsHook`` installs the list for
a run, :func:`allowed_globals` for one read; unlike torch's
``safe_globals``, both take back only what they added.
"""
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch

SafeGlobal = Union[Callable, Tuple[Callable, str]]
#: The statistics methods mmengine's ``HistoryBuffer`` registers itself.
STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as the unpickler may call it: statistics methods only."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}): refused, only '
        'HistoryBuffer statistics methods are allowed')


def add_missing(safe_globals: List[SafeGlobal]) -> List[SafeGlobal]:
    """Allow those of ``safe_globals`` torch does not allow yet; returns
    them (for :func:`remove_added`)."""
    present = torch.serialization.get_safe_globals()
    added = [g for g in safe_globals if g not in present]
    torch.serialization.add_safe_globals(added)
    return added


def remove_added(added: List[SafeGlobal]) -> None:
    """Take back what :func:`add_missing` added, and nothing else."""
    if added:
        kept = [g for g in torch.serialization.get_safe_globals()
                if g not in added]
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(kept)


def allowed_globals(
        safe_globals: List[SafeGlobal]) -> torch.serialization.safe_globals:
    """torch's ``safe_globals`` context for those of ``safe_globals`` not
    allowed yet: what was allowed before stays allowed on exit."""
    present = torch.serialization.get_safe_globals()
    return torch.serialization.safe_globals(
        [g for g in safe_globals if g not in present])


def mmengine_safe_globals() -> List[SafeGlobal]:
    """What ``torch.load(weights_only=True)`` needs for mmengine checkpoints.

    Returns:
        list: ``HistoryBuffer``, numpy's array, scalar and dtype types, and
        ``(restricted getattr, 'builtins.getattr')``.
    """
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = getattr(np, 'dtypes', None)  # numpy < 1.25: none listed
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype] + [
        getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
    ] + [(_history_buffer_getattr, 'builtins.getattr')]
