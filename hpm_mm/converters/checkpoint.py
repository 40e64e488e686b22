"""The one reader (weights-only, one-line errors) and the one writer."""
import argparse
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.utils.serialization.config as serialization_config
from mmengine.runner.checkpoint import CheckpointLoader

from ..fileio import write_atomically
from .safe_globals import allowed_globals, mmengine_safe_globals

StateDict = Dict[str, torch.Tensor]


class CheckpointError(ValueError):
    """A checkpoint cannot be read, recognised, converted or loaded; the
    message is one line naming the file or the offending keys."""


def read_checkpoint(path: str, mmap: bool = False) -> Dict[str, Any]:
    """Read a checkpoint on the CPU with mmengine's ``CheckpointLoader``
    (any scheme it knows), weights-only: besides tensors and containers,
    :func:`mmengine_safe_globals` and :class:`argparse.Namespace` (the
    ``args`` of MAE-style scripts) are allowed for this call only.

    Args:
        path (str): File path or URL.
        mmap (bool): Map the tensors' storage instead of reading it (torch's
            zip format only). Defaults to False.

    Raises:
        CheckpointError: One line naming ``path``: a missing file, one that
            is not a torch checkpoint or is truncated, holds objects the
            safe unpickler refuses, or is not a dict.
    """
    local = '://' not in path
    if local and not osp.isfile(osp.expanduser(path)):
        raise CheckpointError(f'checkpoint not found: {path}')
    broken = f'not a PyTorch checkpoint (or truncated): {path}'
    with allowed_globals([argparse.Namespace] + mmengine_safe_globals()):
        try:
            with serialization_config.patch({'load.mmap': mmap}):
                obj = CheckpointLoader.load_checkpoint(
                    path, map_location='cpu', logger='silent')
        except pickle.UnpicklingError:
            try:  # torch's zip format lists what it refuses
                refused = torch.serialization.get_unsafe_globals_in_checkpoint(
                    osp.expanduser(path))
            except Exception:
                refused = []
            if refused:
                raise CheckpointError(
                    f'checkpoint holds {", ".join(sorted(refused))}, which '
                    f'safe (weights-only) loading refuses: {path}') from None
            raise CheckpointError(broken) from None
        except OSError as err:
            raise CheckpointError(
                broken if local else f'cannot download {path}: '
                f'{str(err).splitlines()[0]}') from None
        except (RuntimeError, EOFError, ValueError, KeyError, IndexError,
                AttributeError, TypeError):
            raise CheckpointError(broken) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f'not a checkpoint (a {type(obj).__name__}, '
                              f'expected a dict): {path}')
    return obj


def check_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` reads as a checkpoint:
    cheaply for torch's zip format, whose tensors are memory-mapped while
    the archive and the pickle are fully checked. URLs are left alone."""
    if '://' not in path:
        read_checkpoint(path, osp.isfile(path) and zipfile.is_zipfile(path))


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('/constants.pkl') for n in zf.namelist())


def take_prefix(state: Mapping, prefix: str) -> StateDict:
    """The entries whose key starts with ``prefix``, without it."""
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def strip_prefix(state: Mapping, prefix: str = 'module.') -> StateDict:
    """Remove ``prefix`` from every key that starts with it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state.items()}


def _tensors(obj: Any) -> Optional[StateDict]:
    if not isinstance(obj, Mapping):
        return None
    return strip_prefix({k: v for k, v in obj.items() if isinstance(k, str)
                         and isinstance(v, torch.Tensor)})


def split_checkpoint(obj: Mapping) -> Tuple[StateDict, Optional[StateDict]]:
    """The tensors (without ``module.``) of ``state_dict``, else of
    ``model``, else of ``obj``; and those of ``ema_state_dict`` or None.

    Raises:
        CheckpointError: No tensors found.
    """
    inner = next((obj[k] for k in ('state_dict', 'model')
                  if isinstance(obj.get(k), Mapping)), obj)
    main, ema = _tensors(inner), _tensors(obj.get('ema_state_dict'))
    if not main or ema == {}:
        raise CheckpointError(
            'unknown checkpoint format: no state dict of tensors under '
            f"'state_dict', 'model' or 'ema_state_dict' (top-level keys: "
            f'{", ".join(map(str, list(obj)[:8]))})')
    return main, ema


def read_state_dict(path: str) -> StateDict:
    """The main state dict (:func:`split_checkpoint`) of the file ``path``;
    raises :class:`CheckpointError` naming ``path``."""
    obj = read_checkpoint(path)
    try:
        return split_checkpoint(obj)[0]
    except CheckpointError as err:
        raise CheckpointError(f'{err}: {path}') from None


def detect_format(state: Mapping) -> str:
    """Which format a state dict (no ``module.``) is in: 'released',
    'hpm', 'mmpretrain', 'mmdet', 'vit' or 'vitdet'.

    Raises:
        CheckpointError: None matches; the message shows the first keys.
    """
    pos = state.get('pos_embed', state.get('backbone.pos_embed'))
    grid = getattr(pos, 'ndim', 3) == 4  # ViTDet's (1, h, w, C)
    if 'patch_embed.proj.weight' in state:
        return 'released'
    if 'backbone.patch_embed.projection.weight' in state:
        if any(k.startswith('neck.') for k in state):
            return 'hpm'
        return 'mmdet' if grid else 'mmpretrain'
    if 'patch_embed.projection.weight' in state:
        return 'vitdet' if grid else 'vit'
    raise CheckpointError(
        'unknown checkpoint format: no ViT patch embedding '
        "('patch_embed.proj.weight', '[backbone.]patch_embed.projection."
        f"weight'); first keys: {', '.join(list(state)[:5])}")


def save_checkpoint(obj: Any, path: str) -> None:
    """``torch.save`` to a temporary name beside ``path``, then rename it:
    ``path`` is the old file or the complete new one, never a part."""
    write_atomically(path, lambda tmp: torch.save(obj, tmp))
