"""Recognising the checkpoint formats the converters read.

========== ==============================================================
format     what it is
========== ==============================================================
released   the authors' checkpoint: timm/MAE names (``blocks.0.mlp.fc1``),
           student in ``state_dict`` (or ``model``), teacher in
           ``ema_state_dict``; keys may carry ``module.``
hpm        an hpm_mm pretraining checkpoint: ``backbone.*``, ``neck.*``,
           ``teacher.module.{backbone,neck}.*``
mmpretrain ``backbone.*`` ViT weights alone (converted, or an mmpretrain
           classifier)
mmdet      ``backbone.*`` ViTDet weights: (1, h, w, C) ``pos_embed``, no
           cls token
vit        bare mmpretrain/mmseg ViT names (``layers.0.ffn.layers.1``)
vitdet     bare ViTDet names
========== ==============================================================
"""
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from .errors import CheckpointError

RELEASED, HPM, MMPRETRAIN, MMDET, VIT, VITDET = ('released', 'hpm',
                                                 'mmpretrain', 'mmdet', 'vit',
                                                 'vitdet')
#: Formats :func:`detect_format` can return.
FORMATS = (RELEASED, HPM, MMPRETRAIN, MMDET, VIT, VITDET)

_PATCH_TIMM = 'patch_embed.proj.weight'
_PATCH_MM = 'patch_embed.projection.weight'

StateDict = Dict[str, torch.Tensor]


def strip_prefix(state: Mapping, prefix: str = 'module.') -> StateDict:
    """Remove ``prefix`` from every key that starts with it."""
    n = len(prefix)
    return {(k[n:] if k.startswith(prefix) else k): v
            for k, v in state.items()}


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor)
        for k, v in obj.items())


def split_checkpoint(obj: Any) -> Tuple[StateDict, Optional[StateDict]]:
    """Find the state dicts in a loaded checkpoint object.

    Args:
        obj (Any): What :func:`load_checkpoint` returned.

    Returns:
        tuple[dict, dict | None]: The main state dict (``state_dict``, else
        ``model``, else the object itself) and the EMA/teacher one
        (``ema_state_dict``) if present, both without ``module.``.

    Raises:
        CheckpointError: No state dict found.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError('unknown checkpoint format: expected a dict, '
                              f'got {type(obj).__name__}')
    main = None
    for key in ('state_dict', 'model'):
        if _is_state_dict(obj.get(key)):
            main = obj[key]
            break
    if main is None and _is_state_dict(obj):
        main = obj
    if main is None:
        raise CheckpointError(
            'unknown checkpoint format: no state dict of tensors under '
            f"'state_dict' or 'model' (top-level keys: "
            f'{", ".join(map(str, list(obj)[:8]))})')
    ema = obj.get('ema_state_dict')
    if ema is not None and not _is_state_dict(ema):
        raise CheckpointError("unknown checkpoint format: 'ema_state_dict' "
                              'is not a dict of tensors')
    return strip_prefix(main), None if ema is None else strip_prefix(ema)


def detect_format(state: Mapping) -> str:
    """Tell which of :data:`FORMATS` a state dict is in.

    Args:
        state (Mapping): A state dict without ``module.`` prefixes.

    Returns:
        str: One of :data:`FORMATS`.

    Raises:
        CheckpointError: None matches; the message shows the first keys.
    """
    if _PATCH_TIMM in state:
        return RELEASED
    if 'backbone.' + _PATCH_MM in state:
        if any(k.startswith('neck.') for k in state):
            return HPM
        pos = state.get('backbone.pos_embed')
        if pos is not None and pos.ndim == 4:
            return MMDET
        return MMPRETRAIN
    if _PATCH_MM in state:
        pos = state.get('pos_embed')
        return VITDET if pos is not None and pos.ndim == 4 else VIT
    keys = ', '.join(list(state)[:5])
    raise CheckpointError(
        'unknown checkpoint format: no ViT patch embedding '
        f"('{_PATCH_TIMM}', '[backbone.]{_PATCH_MM}'); first keys: {keys}")
