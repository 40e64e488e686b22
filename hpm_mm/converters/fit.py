"""Fitting a state dict to a model: compare, say how in one line, load."""
import fnmatch
import re
from typing import Dict, Iterable, List, Mapping, NamedTuple, Sequence

from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

from .checkpoint import CheckpointError


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
    """How the architectures differ: the depth of each block stack, and the
    first size that differs in each top module's mis-shaped keys."""
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
    return [f'{what} {a} in the checkpoint vs {b} in the model ({name})'
            for (what, a, b), name in found.items() if a != b]


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
