"""The one reader (weights-only, one-line errors), the one writer, and
fitting a state dict to a model (compare, say how in one line, load)."""
import argparse
import fnmatch
import os.path as osp
import pickle
import re
import zipfile
from typing import (Any, Dict, Iterable, List, Mapping, NamedTuple,
                    Optional, Sequence, Tuple)

import torch
import torch.utils.serialization.config as serialization_config
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from torch import nn

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
    the archive and the pickle are fully checked. URLs and TorchScript
    archives (OpenAI's CLIP file, read with ``torch.jit.load``) are left
    alone."""
    if '://' not in path and not is_torchscript(path):
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
    'hpm', 'mmpretrain', 'mmdet', 'vit' or 'vitdet'; for video: 'videomae'
    (the reference VideoMAE's file), 'video' (a :class:`VideoMAE` or
    :class:`VideoHPM` checkpoint) or 'mmaction' (its encoder converted for
    mmaction2).

    Raises:
        CheckpointError: None matches; the message shows the first keys.
    """
    pos = state.get('pos_embed', state.get('backbone.pos_embed'))
    grid = getattr(pos, 'ndim', 3) == 4  # ViTDet's (1, h, w, C)
    if 'patch_embed.proj.weight' in state:
        return 'released'
    if 'encoder.patch_embed.proj.weight' in state:
        return 'videomae'
    patch = state.get('backbone.patch_embed.projection.weight')
    if getattr(patch, 'ndim', 4) == 5:  # Conv3d tubelets
        return 'video' if any(k.startswith('neck.') for k in state) \
            else 'mmaction'
    if patch is not None:
        if any(k.startswith('neck.') for k in state):
            return 'hpm'
        return 'mmdet' if grid else 'mmpretrain'
    if 'patch_embed.projection.weight' in state:
        return 'vitdet' if grid else 'vit'
    raise CheckpointError(
        'unknown checkpoint format: no ViT patch embedding '
        "('[encoder.]patch_embed.proj.weight', '[backbone.]patch_embed."
        f"projection.weight'); first keys: {', '.join(list(state)[:5])}")


def save_checkpoint(obj: Any, path: str) -> None:
    """``torch.save`` to a temporary name beside ``path``, then rename it:
    ``path`` is the old file or the complete new one, never a part."""
    write_atomically(path, lambda tmp: torch.save(obj, tmp))


def summarize_keys(keys: Iterable[str]) -> str:
    """Join keys, folding one name over many block indices:
    ``['l.0.a', 'l.1.a', 'n.w']`` -> ``'l.*.a (x2), n.w'``."""
    groups: Dict[str, list] = {}
    for key in keys:
        groups.setdefault(re.sub(r'(?<=\.)\d+(?=\.)', '*', key),
                          []).append(key)
    return ', '.join(g[0] if len(g) == 1 else f'{name} (x{len(g)})'
                     for name, g in groups.items())


class Mismatch(NamedTuple):
    """Model keys the checkpoint lacks, checkpoint keys the model lacks,
    and keys in both with another shape."""
    missing: List[str]
    unexpected: List[str]
    mis_shaped: List[str]


def _shape(value) -> tuple:
    return tuple(getattr(value, 'shape', value))  # a tensor or a Size


def compare_state_dicts(model_state: Mapping, ckpt_state: Mapping) -> Mismatch:
    """Missing, unexpected and mis-shaped keys of ``ckpt_state`` (no
    ``module.``) for ``model_state`` (a state dict, or key -> shape)."""
    return Mismatch(
        [k for k in model_state if k not in ckpt_state],
        [k for k in ckpt_state if k not in model_state],
        [k for k in model_state if k in ckpt_state
         and _shape(model_state[k]) != _shape(ckpt_state[k])])


def _depths(keys: Iterable[str]) -> Dict[str, int]:
    """Blocks of every ``<stack>.<i>.`` (max index + 1)."""
    out: Dict[str, int] = {}
    for m in filter(None, map(re.compile(r'(.*?)\.(\d+)\.').match, keys)):
        out[m[1]] = max(out.get(m[1], 0), int(m[2]) + 1)
    return out


def _architecture(model: Mapping, ckpt: Mapping, mis_shaped: list) -> list:
    """How the architectures differ: the depth of each block stack, the
    first size that differs in each top module's mis-shaped keys; or, with
    no key in common, the checkpoint's format."""
    found = {}  # (what, in the checkpoint, in the model) -> first module
    theirs = _depths(ckpt)
    for name, depth in _depths(model).items():
        found.setdefault(('depth', theirs.get(name, depth), depth), name)
    tops = set()  # the first mis-shaped key of each top module
    for key in mis_shaped:
        a, b, top = _shape(ckpt[key]), _shape(model[key]), key.split('.')[0]
        if len(a) == len(b) and top not in tops:
            tops.add(top)
            found.setdefault(('width', *next(
                (x, y) for x, y in zip(a, b) if x != y)), top)
    causes = [f'{what} {a} in the checkpoint vs {b} in the model ({name})'
              for (what, a, b), name in found.items() if a != b]
    if causes or not ckpt or set(model) & set(ckpt):
        return causes
    try:  # e.g. the authors' file given to an hpm_mm model
        return [f'no key in common: the checkpoint is in the '
                f'{detect_format(ckpt)!r} format '
                '(tools/convert_checkpoint.py converts it)']
    except CheckpointError:
        return [f'no key in common (checkpoint keys like {next(iter(ckpt))}'
                f', model keys like {next(iter(model), "-")})']


def check_fit(model_state: Mapping,
              ckpt_state: Mapping,
              what: str,
              allow_missing: Sequence[str] = (),
              allow_unexpected: bool = False,
              first: int = 3) -> Mismatch:
    """:func:`compare_state_dicts`, raising :class:`CheckpointError` unless
    ``ckpt_state`` fits: model keys matching an ``allow_missing`` fnmatch
    pattern may be absent, checkpoint keys the model lacks only with
    ``allow_unexpected``.

    The message is one line, ``'{what}: '`` then the missing, unexpected
    and mis-shaped keys counted, the ``first`` of each shown (with both
    shapes), and the depths and widths that differ.
    """
    mm = compare_state_dicts(model_state, ckpt_state)
    missing = [k for k in mm.missing if not any(
        fnmatch.fnmatchcase(k, p) for p in allow_missing)]
    if not (missing or mm.mis_shaped or
            (mm.unexpected and not allow_unexpected)):
        return mm

    def some(keys, fmt=str):
        more = ', ...' if len(keys) > first else ''
        return (f' (e.g. {", ".join(map(fmt, keys[:first]))}{more})'
                if keys else '')

    def shapes(k):
        return f'{k} {_shape(ckpt_state[k])} vs {_shape(model_state[k])}'

    causes = _architecture(model_state, ckpt_state, mm.mis_shaped)
    raise CheckpointError(
        f'{what}: {len(missing)} keys missing{some(missing)}, '
        f'{len(mm.unexpected)} unexpected{some(mm.unexpected)}, '
        f'{len(mm.mis_shaped)} with another shape'
        f'{some(mm.mis_shaped, shapes)}' +
        ('; likely cause: ' + ', '.join(causes) if causes else ''))


def load_weights(module: nn.Module,
                 state: Mapping,
                 source: str,
                 allow_missing: Sequence[str] = (),
                 allow_unexpected: bool = False) -> Mismatch:
    """Load ``state`` into ``module`` (unwrapped) after :func:`check_fit`
    (``'{source} does not fit {class}: ...'``) with mmengine's
    ``load_state_dict(strict=True)``; returns the (allowed) missing keys,
    left at init, and the unexpected ones, left out."""
    if is_model_wrapper(module):
        module = module.module
    own = module.state_dict()
    mm = check_fit(own, state, f'{source} does not fit '
                   f'{type(module).__name__}', allow_missing, allow_unexpected)
    load_state_dict(module, {k: state.get(k, own[k]) for k in own},
                    strict=True)
    return mm
