"""Compact, readable lists of state-dict keys for logs and errors."""
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence

_INDEX = re.compile(r'(?<=\.)\d+(?=\.)')


def summarize_keys(keys: Iterable[str]) -> str:
    """Join keys, folding the same name over many block indices.

    ``['layers.0.attn.rel_pos_h', 'layers.1.attn.rel_pos_h', 'ln1.weight']``
    becomes ``'layers.*.attn.rel_pos_h (x2), ln1.weight'``.

    Args:
        keys (Iterable[str]): State-dict keys.

    Returns:
        str: Comma-separated summary, '' when there are no keys.
    """
    groups: Dict[str, list] = {}
    for key in keys:
        groups.setdefault(_INDEX.sub('*', key), []).append(key)
    parts = []
    for pattern, members in groups.items():
        parts.append(members[0] if len(members) == 1 else
                     f'{pattern} (x{len(members)})')
    return ', '.join(parts)


_STACK = re.compile(r'^(.*?)\.(\d+)\.')


@dataclass
class Mismatch:
    """How a checkpoint's state dict differs from a model's.

    Attributes:
        missing (list[str]): Model keys the checkpoint lacks.
        unexpected (list[str]): Checkpoint keys the model does not have.
        mis_shaped (list[str]): Keys in both with different shapes.
    """
    missing: List[str]
    unexpected: List[str]
    mis_shaped: List[str]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mis_shaped)


def compare_state_dicts(model_state: Mapping, ckpt_state: Mapping,
                        ignore_missing: Sequence[str] = ()) -> Mismatch:
    """Missing, unexpected and mis-shaped keys of ``ckpt_state``.

    Args:
        model_state (Mapping): The model's state dict (or key -> shape).
        ckpt_state (Mapping): The checkpoint's.
        ignore_missing (Sequence[str]): Prefixes of model keys that may be
            absent.
    """
    missing = [k for k in model_state if k not in ckpt_state
               and not k.startswith(tuple(ignore_missing))]
    unexpected = [k for k in ckpt_state if k not in model_state]
    mis_shaped = [k for k in model_state if k in ckpt_state
                  and _shape(model_state[k]) != _shape(ckpt_state[k])]
    return Mismatch(missing, unexpected, mis_shaped)


def _shape(value) -> tuple:
    return tuple(getattr(value, 'shape', ()))


def _depths(keys: Iterable[str]) -> Dict[str, int]:
    """Number of blocks of every ``<prefix>.<i>.`` stack (max index + 1)."""
    out: Dict[str, int] = {}
    for key in keys:
        match = _STACK.match(key)
        if match:
            name, i = match.group(1), int(match.group(2))
            out[name] = max(out.get(name, 0), i + 1)
    return out


def _likely_causes(model_state: Mapping, ckpt_state: Mapping,
                   mismatch: Mismatch) -> List[str]:
    causes, seen = [], set()
    ckpt_depth = _depths(ckpt_state)
    for name, depth in _depths(model_state).items():
        other = ckpt_depth.get(name)
        if other and other != depth and (other, depth) not in seen:
            seen.add((other, depth))
            causes.append(f'depth {other} in the checkpoint vs {depth} in '
                          f'the model ({name})')
    # the most common pair of differing sizes in each top-level module
    widths: Dict[str, Counter] = {}
    seen_widths = set()
    for key in mismatch.mis_shaped:
        a, b = _shape(ckpt_state[key]), _shape(model_state[key])
        if len(a) == len(b):
            widths.setdefault(key.split('.')[0], Counter()).update(
                (x, y) for x, y in zip(a, b) if x != y)
    for name, counts in widths.items():
        if counts:
            (a, b), _ = counts.most_common(1)[0]
            if (a, b) not in seen_widths:
                seen_widths.add((a, b))
                causes.append(f'width {a} in the checkpoint vs {b} in the '
                              f'model ({name})')
    if not causes and ckpt_state and not set(model_state) & set(ckpt_state):
        from .formats import detect_format
        try:
            fmt = detect_format(ckpt_state)
        except ValueError:
            fmt = None
        causes.append(
            f'no key in common: the checkpoint is in the {fmt!r} format '
            '(tools/convert_checkpoint.py converts it)' if fmt else
            f'no key in common (checkpoint keys like '
            f'{next(iter(ckpt_state))}, model keys like '
            f'{next(iter(model_state), "-")})')
    return causes


def describe_state_dict_mismatch(model_state: Mapping,
                                 ckpt_state: Mapping,
                                 ignore_missing: Sequence[str] = (),
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
        checkpoint vs 768 in the model

    Args:
        model_state (Mapping): The model's state dict (or key -> shape).
        ckpt_state (Mapping): The checkpoint's (without ``module.``).
        ignore_missing (Sequence[str]): Prefixes of model keys that may be
            absent.
        first (int): How many keys of each kind to show.

    Returns:
        str: The description; '' when the state dicts fit.
    """
    mm = compare_state_dicts(model_state, ckpt_state, ignore_missing)
    if not mm:
        return ''

    def some(keys, fmt=str):
        if not keys:
            return ''
        more = ', ...' if len(keys) > first else ''
        return f' (e.g. {", ".join(fmt(k) for k in keys[:first])}{more})'

    def shapes(k):
        return (f'{k} {_shape(ckpt_state[k])} vs {_shape(model_state[k])}')

    text = (f'{len(mm.missing)} keys missing{some(mm.missing)}, '
            f'{len(mm.unexpected)} unexpected{some(mm.unexpected)}, '
            f'{len(mm.mis_shaped)} with another shape'
            f'{some(mm.mis_shaped, shapes)}')
    causes = _likely_causes(model_state, ckpt_state, mm)
    if causes:
        text += '; likely cause: ' + ', '.join(causes)
    return text
