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
from typing import Mapping

from .checkpoint import CheckpointError

RELEASED, HPM, MMPRETRAIN, MMDET, VIT, VITDET = ('released', 'hpm',
                                                 'mmpretrain', 'mmdet', 'vit',
                                                 'vitdet')
#: Formats :func:`detect_format` can return.
FORMATS = (RELEASED, HPM, MMPRETRAIN, MMDET, VIT, VITDET)

_PATCH_TIMM = 'patch_embed.proj.weight'
_PATCH_MM = 'patch_embed.projection.weight'


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
