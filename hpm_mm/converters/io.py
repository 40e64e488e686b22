"""Reading checkpoints safely and writing them atomically."""
import argparse
import os
import os.path as osp
import pickle
from typing import Any

import torch

from .errors import CheckpointError


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def load_checkpoint(path: str) -> Any:
    """Load a checkpoint with ``torch.load(weights_only=True)`` on the CPU.

    Besides tensors and containers, the safe unpickler accepts the types an
    mmengine checkpoint holds (allow-listed when :mod:`hpm_mm` is imported)
    and :class:`argparse.Namespace` (the ``args`` of MAE-style training
    scripts). Anything else is refused, so a checkpoint cannot run code.
    Paths with a scheme (``https://``, ``s3://``) go through mmengine's file
    backends.

    Args:
        path (str): File path or URL.

    Returns:
        Any: The unpickled object.

    Raises:
        CheckpointError: Missing file, or a file that is not a (safe) torch
            checkpoint.
    """
    if '://' in path:
        from mmengine.fileio import get_local_path
        with get_local_path(path) as local:
            return load_checkpoint(local)
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f'cannot load {path} with weights_only=True: '
            f'{_first_line(err)}') from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f'cannot read checkpoint {path}: '
                              f'{_first_line(err)}') from err


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
