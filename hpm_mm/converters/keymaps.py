"""Parameter-name maps between the released (timm/MAE) and mmpretrain names.

The authors' code is an MAE fork on timm; hpm_mm builds the same networks
from mmpretrain layers. Only names differ, never shapes or layouts (the qkv
projection keeps timm's q, k, v order in both).
"""
import re
from typing import Dict, Optional, Sequence, Tuple

# Inside one transformer block. ``{p}`` is ``weight`` or ``bias``.
_BLOCK_PARTS = (
    ('norm1.{p}', 'ln1.{p}'),
    ('attn.qkv.{p}', 'attn.qkv.{p}'),
    ('attn.proj.{p}', 'attn.proj.{p}'),
    ('norm2.{p}', 'ln2.{p}'),
    ('mlp.fc1.{p}', 'ffn.layers.0.0.{p}'),
    ('mlp.fc2.{p}', 'ffn.layers.1.{p}'),
)


def _stack(timm_name: str, mm_name: str) -> Tuple[Tuple[str, str], ...]:
    """Name pairs of every block of a stack; ``{i}`` is the block index."""
    return tuple((f'{timm_name}.{{i}}.{t}', f'{mm_name}.{{i}}.{m}')
                 for t, m in _BLOCK_PARTS)


#: Encoder: released names -> mmpretrain ``VisionTransformer`` names.
ENCODER_PAIRS = (
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.proj.{p}', 'patch_embed.projection.{p}'),
    *_stack('blocks', 'layers'),
    ('norm.{p}', 'ln1.{p}'),
)

#: Decoder: released names -> :class:`HPMDecoder` names.
DECODER_PAIRS = (
    ('mask_token', 'mask_token'),
    ('decoder_embed.{p}', 'decoder_embed.{p}'),
    ('decoder_pos_embed', 'decoder_pos_embed'),
    *_stack('decoder_blocks', 'decoder_blocks'),
    ('decoder_norm.{p}', 'ln1.{p}'),
    ('decoder_pred.{p}', 'decoder_pred.{p}'),
    *_stack('decoder_blocks_losspred', 'decoder_blocks_losspred'),
    ('decoder_norm_losspred.{p}', 'decoder_norm_losspred.{p}'),
    ('decoder_pred_losspred.{p}', 'decoder_pred_losspred.{p}'),
)

_FIELDS = {'i': r'(?P<i>\d+)', 'p': r'(?P<p>weight|bias)'}


def _compile(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for name, group in _FIELDS.items():
        pattern = pattern.replace(re.escape('{' + name + '}'), group)
    return re.compile(pattern)


class KeyMap:
    """A bijection between two naming schemes given by template pairs.

    Args:
        pairs (Sequence[tuple[str, str]]): ``(left, right)`` templates with
            the fields ``{i}`` (an index) and ``{p}`` (weight or bias).
    """

    def __init__(self, pairs: Sequence[Tuple[str, str]]) -> None:
        self._to_right = [(_compile(a), b) for a, b in pairs]
        self._to_left = [(_compile(b), a) for a, b in pairs]

    @staticmethod
    def _apply(rules, key: str) -> Optional[str]:
        for pattern, template in rules:
            match = pattern.fullmatch(key)
            if match:
                return template.format(**match.groupdict())
        return None

    def right(self, key: str) -> Optional[str]:
        """Left name -> right name, or None if no template matches."""
        return self._apply(self._to_right, key)

    def left(self, key: str) -> Optional[str]:
        """Right name -> left name, or None if no template matches."""
        return self._apply(self._to_left, key)


#: Released encoder names <-> mmpretrain ``VisionTransformer`` names.
ENCODER = KeyMap(ENCODER_PAIRS)
#: Released (student) names <-> :class:`HPM` student names
#: (``backbone.*``, ``neck.*``).
STUDENT = KeyMap([(a, 'backbone.' + b) for a, b in ENCODER_PAIRS] +
                 [(a, 'neck.' + b) for a, b in DECODER_PAIRS])


def rename(state: Dict, fn) -> Tuple[Dict, list]:
    """Rename every key with ``fn``.

    Returns:
        tuple[dict, list[str]]: The renamed dict and the keys ``fn`` could
        not map (left out of the dict).
    """
    out, unknown = {}, []
    for key, val in state.items():
        new = fn(key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = val
    return out, unknown
