"""Compact, readable lists of state-dict keys for logs and errors."""
import re
from typing import Dict, Iterable

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
