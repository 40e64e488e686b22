"""Reading a checkpoint (weights-only, one-line errors) and writing one."""
import argparse
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.utils.serialization.config as serialization_config
from mmengine.runner.checkpoint import CheckpointLoader

from ..fileio import write_atomically
from .safe_globals import allowed_globals, mmengine_safe_globals

StateDict = Dict[str, torch.Tensor]


class CheckpointError(ValueError):
    """A checkpoint cannot be read, recognised, converted or loaded.

    The message is a single line that names the file or the offending keys,
    so command-line tools can print it as is.
    """


def read_checkpoint(path: str, mmap: bool = False) -> Dict[str, Any]:
    """Read a checkpoint on the CPU with mmengine's ``CheckpointLoader``.

    mmengine dispatches on the scheme (local path, ``https://``, ``s3://``,
    ``open-mmlab://``, ...) and calls ``torch.load``, which loads
    weights-only (torch >= 2.6): besides tensors and containers it accepts
    the types an mmengine checkpoint holds (allow-listed for this call
    only, :func:`~hpm_mm.converters.safe_globals.mmengine_safe_globals`) and
    :class:`argparse.Namespace` (the ``args`` of MAE-style training
    scripts). Anything else is refused, so a checkpoint cannot run code.

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
    if '://' not in path and not osp.isfile(osp.expanduser(path)):
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        allowed = [argparse.Namespace] + mmengine_safe_globals()
        with allowed_globals(allowed), \
                serialization_config.patch({'load.mmap': mmap}):
            obj = CheckpointLoader.load_checkpoint(
                path, map_location='cpu', logger='silent')
    except pickle.UnpicklingError as err:
        refused = re.search(r'GLOBAL ([\w.]+)', str(err))
        if refused:
            raise CheckpointError(
                f'checkpoint holds {refused.group(1)}, which safe '
                f'(weights-only) loading refuses: {path}') from None
        raise CheckpointError(
            f'not a PyTorch checkpoint (or truncated): {path}') from None
    except OSError as err:
        if '://' in path:  # the download failed
            raise CheckpointError(f'cannot download {path}: '
                                  f'{str(err).splitlines()[0]}') from None
        raise CheckpointError(
            f'not a PyTorch checkpoint (or truncated): {path}') from None
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError,
            AttributeError, TypeError):
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
    """
    if '://' not in path:
        read_checkpoint(path, osp.isfile(path) and zipfile.is_zipfile(path))


def save_checkpoint(obj: Any, path: str) -> None:
    """``torch.save`` to a temporary name, then rename it to ``path``.

    The rename is atomic on one filesystem: ``path`` is either the old file
    or the complete new one, never a half-written file.
    """
    write_atomically(path, lambda tmp: torch.save(obj, tmp))


def strip_prefix(state: Mapping, prefix: str = 'module.') -> StateDict:
    """Remove ``prefix`` from every key that starts with it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state.items()}


def take_prefix(state: Mapping, prefix: str) -> StateDict:
    """The entries whose key starts with ``prefix``, without it."""
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def _tensors(obj: Any) -> Optional[StateDict]:
    if not isinstance(obj, Mapping):
        return None
    return strip_prefix({k: v for k, v in obj.items() if isinstance(k, str)
                         and isinstance(v, torch.Tensor)})


def split_checkpoint(obj: Any) -> Tuple[StateDict, Optional[StateDict]]:
    """The state dicts of a loaded checkpoint, without ``module.``.

    Args:
        obj (Any): What :func:`read_checkpoint` returned, or a state dict.

    Returns:
        tuple[dict, dict | None]: The tensors of ``state_dict``, else of
        ``model``, else of the object itself; and those of
        ``ema_state_dict`` (the EMA teacher) if there is one.

    Raises:
        CheckpointError: No tensors found.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError('unknown checkpoint format: expected a dict, '
                              f'got {type(obj).__name__}')
    inner = next((obj[k] for k in ('state_dict', 'model')
                  if isinstance(obj.get(k), Mapping)), obj)
    main, ema = _tensors(inner), _tensors(obj.get('ema_state_dict'))
    if not main:
        raise CheckpointError(
            'unknown checkpoint format: no state dict of tensors under '
            f"'state_dict' or 'model' (top-level keys: "
            f'{", ".join(map(str, list(obj)[:8]))})')
    if obj.get('ema_state_dict') is not None and not ema:
        raise CheckpointError("unknown checkpoint format: 'ema_state_dict' "
                              'is not a dict of tensors')
    return main, ema


def read_state_dict(path: str) -> StateDict:
    """The main state dict (:func:`split_checkpoint`) of the file ``path``.

    Raises:
        CheckpointError: As :func:`read_checkpoint`, or no tensors in the
            file; the message names ``path``.
    """
    obj = read_checkpoint(path)
    try:
        return split_checkpoint(obj)[0]
    except CheckpointError as err:
        raise CheckpointError(f'{err}: {path}') from None
