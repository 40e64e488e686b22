"""Fitting a state dict to a model: compare, say how it differs, load.

Every loader of hpm_mm goes through :func:`load_weights` (or, after
mmengine has loaded a checkpoint, :func:`check_fit`), so a checkpoint that
does not fit is refused the same way everywhere, in one line.
"""
import fnmatch
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence

from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

from .checkpoint import CheckpointError
from .formats import detect_format

_INDEX = re.compile(r'(?<=\.)\d+(?=\.)')
_STACK = re.compile(r'^(.*?)\.(\d+)\.')


def summarize_keys(keys: Iterable[str]) -> str:
    """Join keys, folding the same name over many block indices.

    ``['layers.0.attn.rel_pos_h', 'layers.1.attn.rel_pos_h', 'ln1.weight']``
    becomes ``'layers.*.attn.rel_pos_h (x2), ln1.weight'`` ('' for no key).
    """
    groups: Dict[str, list] = {}
    for key in keys:
        groups.setdefault(_INDEX.sub('*', key), []).append(key)
    return ', '.join(group[0] if len(group) == 1 else
                     f'{name} (x{len(group)})'
                     for name, group in groups.items())


@dataclass
class Mismatch:
    """How a checkpoint's state dict differs from a model's.

    Attributes:
        missing (list[str]): Model keys the checkpoint lacks (not counting
            the allowed ones).
        unexpected (list[str]): Checkpoint keys the model does not have.
        mis_shaped (list[str]): Keys in both with different shapes.
    """
    missing: List[str]
    unexpected: List[str]
    mis_shaped: List[str]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mis_shaped)


def _shape(value) -> tuple:
    """Shape of a tensor, or a shape itself (``torch.Size``) as a tuple."""
    return tuple(getattr(value, 'shape', value))


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def compare_state_dicts(model_state: Mapping,
                        ckpt_state: Mapping,
                        allow_missing: Sequence[str] = (),
                        resizable: Sequence[str] = ()) -> Mismatch:
    """Missing, unexpected and mis-shaped keys of ``ckpt_state``.

    Args:
        model_state (Mapping): The model's state dict (or key -> shape).
        ckpt_state (Mapping): The checkpoint's (without ``module.``).
        allow_missing (Sequence[str]): fnmatch patterns of model keys that
            may be absent (``'layers.*.attn.rel_pos_h'``, ``'teacher.*'``).
        resizable (Sequence[str]): Keys whose grid may differ because the
            loader interpolates them; rank and channels must still agree.
    """
    def fits(key):
        a, b = _shape(model_state[key]), _shape(ckpt_state[key])
        return a == b or (key in resizable and len(a) == len(b)
                          and a[-1:] == b[-1:])

    return Mismatch(
        missing=[k for k in model_state if k not in ckpt_state
                 and not _matches(k, allow_missing)],
        unexpected=[k for k in ckpt_state if k not in model_state],
        mis_shaped=[k for k in model_state if k in ckpt_state
                    and not fits(k)])


def _depths(keys: Iterable[str]) -> Dict[str, int]:
    """Number of blocks of every ``<prefix>.<i>.`` stack (max index + 1)."""
    out: Dict[str, int] = {}
    for match in filter(None, map(_STACK.match, keys)):
        name, i = match.group(1), int(match.group(2))
        out[name] = max(out.get(name, 0), i + 1)
    return out


def _likely_causes(model_state: Mapping, ckpt_state: Mapping,
                   mismatch: Mismatch) -> List[str]:
    causes, seen = [], set()
    ckpt_depth = _depths(ckpt_state)
    for name, depth in _depths(model_state).items():
        other = ckpt_depth.get(name, depth)
        if other != depth and ('depth', other, depth) not in seen:
            seen.add(('depth', other, depth))
            causes.append(f'depth {other} in the checkpoint vs {depth} in '
                          f'the model ({name})')
    widths: Dict[str, Counter] = {}  # differing sizes per top-level module
    for key in mismatch.mis_shaped:
        a, b = _shape(ckpt_state[key]), _shape(model_state[key])
        if len(a) == len(b):
            widths.setdefault(key.split('.')[0], Counter()).update(
                (x, y) for x, y in zip(a, b) if x != y)
    for name, counts in widths.items():
        for (a, b), _ in counts.most_common(1):
            if ('width', a, b) not in seen:
                seen.add(('width', a, b))
                causes.append(f'width {a} in the checkpoint vs {b} in the '
                              f'model ({name})')
    if not causes and ckpt_state and not set(model_state) & set(ckpt_state):
        try:
            causes.append(f'no key in common: the checkpoint is in the '
                          f'{detect_format(ckpt_state)!r} format '
                          '(tools/convert_checkpoint.py converts it)')
        except CheckpointError:
            causes.append(f'no key in common (checkpoint keys like '
                          f'{next(iter(ckpt_state))}, model keys like '
                          f'{next(iter(model_state), "-")})')
    return causes


def describe_state_dict_mismatch(model_state: Mapping,
                                 ckpt_state: Mapping,
                                 allow_missing: Sequence[str] = (),
                                 resizable: Sequence[str] = (),
                                 first: int = 3) -> str:
    """One line that says how a checkpoint does not fit a model.

    Counts the missing, unexpected and mis-shaped keys, shows the ``first``
    of each (with both shapes for mis-shaped ones), and adds the likely
    cause when it is clear: a different depth of a block stack, a different
    width, or a checkpoint in another naming format. Example::

        12 keys missing (e.g. backbone.layers.4.ln1.weight, ...), 0
        unexpected, 40 with another shape (e.g. backbone.cls_token
        (1, 1, 192) vs (1, 1, 768), ...); likely cause: depth 4 in the
        checkpoint vs 12 in the model (backbone.layers), width 192 in the
        checkpoint vs 768 in the model (backbone)

    Arguments as :func:`compare_state_dicts`; returns '' when they fit.
    """
    mm = compare_state_dicts(model_state, ckpt_state, allow_missing,
                             resizable)
    if not mm:
        return ''

    def some(keys, fmt=str):
        more = ', ...' if len(keys) > first else ''
        return (f' (e.g. {", ".join(map(fmt, keys[:first]))}{more})'
                if keys else '')

    def shapes(k):
        return f'{k} {_shape(ckpt_state[k])} vs {_shape(model_state[k])}'

    text = (f'{len(mm.missing)} keys missing{some(mm.missing)}, '
            f'{len(mm.unexpected)} unexpected{some(mm.unexpected)}, '
            f'{len(mm.mis_shaped)} with another shape'
            f'{some(mm.mis_shaped, shapes)}')
    causes = _likely_causes(model_state, ckpt_state, mm)
    return text + ('; likely cause: ' + ', '.join(causes) if causes else '')


def check_fit(model_state: Mapping,
              ckpt_state: Mapping,
              what: str,
              allow_missing: Sequence[str] = (),
              allow_unexpected: bool = False,
              resizable: Sequence[str] = ()) -> Mismatch:
    """Raise unless ``ckpt_state`` fits ``model_state``.

    Args:
        model_state, ckpt_state, allow_missing, resizable: As in
            :func:`compare_state_dicts`.
        what (str): Start of the message, e.g. ``'x.pth does not fit HPM'``.
        allow_unexpected (bool): Accept checkpoint keys the model does not
            have (the caller logs them).

    Returns:
        Mismatch: What differs and was accepted.

    Raises:
        CheckpointError: ``'{what}: '`` and
            :func:`describe_state_dict_mismatch`, in one line.
    """
    mm = compare_state_dicts(model_state, ckpt_state, allow_missing,
                             resizable)
    if mm.missing or mm.mis_shaped or (mm.unexpected and
                                       not allow_unexpected):
        raise CheckpointError(f'{what}: ' + describe_state_dict_mismatch(
            model_state, ckpt_state, allow_missing, resizable))
    return mm


def load_weights(module: nn.Module,
                 state: Mapping,
                 source: str,
                 allow_missing: Sequence[str] = (),
                 allow_unexpected: bool = False) -> Mismatch:
    """Load ``state`` into ``module`` after :func:`check_fit`.

    The load itself is mmengine's ``load_state_dict`` with ``strict=True``:
    the allowed missing keys are given their current values, so they keep
    their initialisation, and unexpected keys are left out.

    Args:
        module (nn.Module): The model (model wrappers are unwrapped).
        state (Mapping): State dict in the module's names, no ``module.``.
        source (str): What ``state`` comes from, for the message (a path).
        allow_missing, allow_unexpected: As in :func:`check_fit`.

    Returns:
        Mismatch: The (allowed) missing keys, left at init, and the
        unexpected ones, left out.

    Raises:
        CheckpointError: ``'{source} does not fit {class}: ...'``.
    """
    if is_model_wrapper(module):
        module = module.module
    own = module.state_dict()
    mm = check_fit(own, state, f'{source} does not fit '
                   f'{type(module).__name__}', allow_missing, allow_unexpected)
    left = [k for k in own if k not in state]
    fitted = {k: v for k, v in state.items() if k in own}
    fitted.update({k: own[k] for k in left})
    load_state_dict(module, fitted, strict=True)
    return Mismatch(left, mm.unexpected, [])
