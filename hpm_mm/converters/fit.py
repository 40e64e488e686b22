"""Fitting a state dict to a model: compare, say how in one line, load."""
import fnmatch
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence

from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

from .checkpoint import CheckpointError, detect_format


def summarize_keys(keys: Iterable[str]) -> str:
    """Join keys, folding one name over many block indices:
    ``['l.0.a', 'l.1.a', 'n.w']`` -> ``'l.*.a (x2), n.w'``."""
    groups: Dict[str, list] = {}
    for key in keys:
        groups.setdefault(re.sub(r'(?<=\.)\d+(?=\.)', '*', key),
                          []).append(key)
    return ', '.join(g[0] if len(g) == 1 else f'{name} (x{len(g)})'
                     for name, g in groups.items())


@dataclass
class Mismatch:
    """Model keys the checkpoint lacks (but the allowed ones), checkpoint
    keys the model lacks, and keys in both with another shape."""
    missing: List[str]
    unexpected: List[str]
    mis_shaped: List[str]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mis_shaped)


def _shape(value) -> tuple:
    return tuple(getattr(value, 'shape', value))  # a tensor or a Size


def compare_state_dicts(model_state: Mapping,
                        ckpt_state: Mapping,
                        allow_missing: Sequence[str] = (),
                        resizable: Sequence[str] = ()) -> Mismatch:
    """Missing, unexpected and mis-shaped keys of ``ckpt_state`` (no
    ``module.``) for ``model_state`` (a state dict, or key -> shape); model
    keys matching an ``allow_missing`` fnmatch pattern may be absent, and
    ``resizable`` keys differ in grid only (the loader interpolates)."""
    def fits(key):
        a, b = _shape(model_state[key]), _shape(ckpt_state[key])
        return a == b or (key in resizable and len(a) == len(b)
                          and a[-1:] == b[-1:])

    return Mismatch(
        [k for k in model_state if k not in ckpt_state and not any(
            fnmatch.fnmatchcase(k, p) for p in allow_missing)],
        [k for k in ckpt_state if k not in model_state],
        [k for k in model_state if k in ckpt_state and not fits(k)])


def _depths(keys: Iterable[str]) -> Dict[str, int]:
    """Blocks of every ``<stack>.<i>.`` (max index + 1)."""
    out: Dict[str, int] = {}
    for m in filter(None, map(re.compile(r'(.*?)\.(\d+)\.').match, keys)):
        out[m[1]] = max(out.get(m[1], 0), int(m[2]) + 1)
    return out


def _likely_causes(model: Mapping, ckpt: Mapping, mm: Mismatch) -> list:
    found = {}  # (what, in the checkpoint, in the model) -> first module
    theirs = _depths(ckpt)
    for name, depth in _depths(model).items():
        found.setdefault(('depth', theirs.get(name, depth), depth), name)
    widths: Dict[str, Counter] = {}  # differing sizes per top module
    for key in mm.mis_shaped:
        a, b = _shape(ckpt[key]), _shape(model[key])
        if len(a) == len(b):
            widths.setdefault(key.split('.')[0], Counter()).update(
                (x, y) for x, y in zip(a, b) if x != y)
    for name, counts in widths.items():
        found.setdefault(('width', *counts.most_common(1)[0][0]), name)
    causes = [f'{what} {a} in the checkpoint vs {b} in the model ({name})'
              for (what, a, b), name in found.items() if a != b]
    if causes or not ckpt or set(model) & set(ckpt):
        return causes
    try:
        return [f'no key in common: the checkpoint is in the '
                f'{detect_format(ckpt)!r} format '
                '(tools/convert_checkpoint.py converts it)']
    except CheckpointError:
        return [f'no key in common (checkpoint keys like {next(iter(ckpt))}'
                f', model keys like {next(iter(model), "-")})']


def describe_state_dict_mismatch(model_state: Mapping,
                                 ckpt_state: Mapping,
                                 allow_missing: Sequence[str] = (),
                                 resizable: Sequence[str] = (),
                                 first: int = 3) -> str:
    """One line that says how a checkpoint does not fit a model ('' if it
    does): the missing, unexpected and mis-shaped keys counted, the
    ``first`` of each shown (with both shapes), and the likely cause where
    it is clear (another depth of a block stack, another width, another
    naming format). Arguments as :func:`compare_state_dicts`."""
    mm = compare_state_dicts(model_state, ckpt_state, allow_missing,
                             resizable)

    def some(keys, fmt=str):
        more = ', ...' if len(keys) > first else ''
        return (f' (e.g. {", ".join(map(fmt, keys[:first]))}{more})'
                if keys else '')

    def shapes(k):
        return f'{k} {_shape(ckpt_state[k])} vs {_shape(model_state[k])}'

    causes = _likely_causes(model_state, ckpt_state, mm) if mm else []
    return '' if not mm else (
        f'{len(mm.missing)} keys missing{some(mm.missing)}, '
        f'{len(mm.unexpected)} unexpected{some(mm.unexpected)}, '
        f'{len(mm.mis_shaped)} with another shape'
        f'{some(mm.mis_shaped, shapes)}' +
        ('; likely cause: ' + ', '.join(causes) if causes else ''))


def check_fit(model_state: Mapping,
              ckpt_state: Mapping,
              what: str,
              allow_missing: Sequence[str] = (),
              allow_unexpected: bool = False,
              resizable: Sequence[str] = ()) -> Mismatch:
    """Raise :class:`CheckpointError` ``'{what}: '`` +
    :func:`describe_state_dict_mismatch` unless ``ckpt_state`` fits
    (checkpoint keys the model lacks too, with ``allow_unexpected``);
    returns what differs and was accepted. Else as
    :func:`compare_state_dicts`."""
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
    return Mismatch([k for k in own if k not in state], mm.unexpected, [])
