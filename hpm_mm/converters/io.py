"""Reading checkpoints safely and writing them atomically."""
import argparse
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Dict, Sequence

import torch

from .errors import CheckpointError
from .formats import split_checkpoint
from .report import describe_state_dict_mismatch

_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')


def _refused_global(err: BaseException) -> str:
    """The global a weights-only load refused, '' if not that error."""
    match = _GLOBAL.search(str(err))
    return match.group(1) if match else ''


def read_checkpoint(path: str, mmap: bool = False) -> Dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` on the CPU.

    Besides tensors and containers, the safe unpickler accepts the types an
    mmengine checkpoint holds (:func:`~hpm_mm.engine.safe_globals.
    mmengine_safe_globals`, for this call only) and
    :class:`argparse.Namespace` (the ``args`` of MAE-style training
    scripts). Anything else is refused, so a checkpoint cannot run code.
    Paths with a scheme (``https://``, ``s3://``) go through mmengine's file
    backends.

    Args:
        path (str): File path or URL.
        mmap (bool): Map the tensors' storage instead of reading it (only
            for files in torch's zip format). Defaults to False.

    Returns:
        dict: The unpickled checkpoint.

    Raises:
        CheckpointError: One line naming ``path``: missing file, a file
            that is not a torch checkpoint or is truncated, one that holds
            objects the safe unpickler refuses, or one that is not a dict.
    """
    if '://' in path:
        from mmengine.fileio import get_local_path
        with get_local_path(path) as local:
            return read_checkpoint(local, mmap)
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    from ..engine.safe_globals import mmengine_safe_globals
    try:
        with torch.serialization.safe_globals(
                [argparse.Namespace] + mmengine_safe_globals()):
            obj = torch.load(
                path, map_location='cpu', weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        refused = _refused_global(err)
        if refused:
            raise CheckpointError(
                f'checkpoint holds {refused}, which safe (weights-only) '
                f'loading refuses: {path}') from None
        raise CheckpointError(
            f'not a PyTorch checkpoint (or truncated): {path}') from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError,
            IndexError, AttributeError, TypeError):
        raise CheckpointError(
            f'not a PyTorch checkpoint (or truncated): {path}') from None
    if not isinstance(obj, dict):
        raise CheckpointError(f'not a checkpoint (a {type(obj).__name__}, '
                              f'expected a dict): {path}')
    return obj


def check_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` reads as a checkpoint.

    Cheap for torch's zip format (the default since torch 1.6): the tensors
    are memory-mapped, not read, while the archive and the pickled
    structure are fully checked (truncation, foreign objects). Older files
    are read. URLs are left to the loader that downloads them.

    Args:
        path (str): Local checkpoint file.
    """
    if '://' in path:
        return
    read_checkpoint(path, mmap=osp.isfile(path) and zipfile.is_zipfile(path))


#: Former name of :func:`read_checkpoint`.
load_checkpoint = read_checkpoint


def save_checkpoint(obj: Any, path: str) -> None:
    """Save with ``torch.save`` to a temporary name, then rename.

    The rename is atomic on one filesystem: ``path`` is either the old file
    or the complete new one, never a half-written file.

    Args:
        obj (Any): What to save.
        path (str): Destination file.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.tmp{os.getpid()}')
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def load_model_weights(model: torch.nn.Module,
                       path: str,
                       ignore_missing: Sequence[str] = ()) -> None:
    """Load a checkpoint into ``model``, refusing any mismatch in one line.

    Args:
        model (nn.Module): The model (its own key names, no ``module.``).
        path (str): Checkpoint with the model's state dict (under
            ``state_dict`` or ``model``, or at the top level).
        ignore_missing (Sequence[str]): Prefixes of model keys that may be
            absent from the checkpoint (they keep their values).

    Raises:
        CheckpointError: Unreadable file, or missing, unexpected or
            mis-shaped keys, summarised by
            :func:`~.report.describe_state_dict_mismatch`.
    """
    try:
        state, _ = split_checkpoint(read_checkpoint(path))
    except CheckpointError as err:
        if path in str(err):
            raise
        raise CheckpointError(f'{err}: {path}') from None
    problem = describe_state_dict_mismatch(model.state_dict(), state,
                                           ignore_missing)
    if problem:
        raise CheckpointError(
            f'{path} does not fit {type(model).__name__}: {problem}')
    model.load_state_dict(state, strict=not ignore_missing)
