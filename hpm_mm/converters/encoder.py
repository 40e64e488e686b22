"""Pretrained encoder -> backbone weights of mmpretrain, mmdet and mmseg.

Every input is first reduced to the encoder in bare mmpretrain
``VisionTransformer`` names (format ``vit``), then renamed for the target:

========== ====================================================== ========
target     keys                                                   prefix
========== ====================================================== ========
mmpretrain ``VisionTransformer`` names, unchanged                 backbone.
mmdet      :class:`ViTDet` names: no cls token, no final norm,    backbone.
           ``pos_embed`` (1, h, w, C) without the cls position
mmseg      mmseg ``MAE`` names (identical to mmpretrain's for     (none)
           the shared parameters)
timm       timm ``VisionTransformer`` names (``blocks.0.attn.qkv``, (none)
           ``norm``), the authors' encoder names; loadable by
           ``timm.create_model('vit_base_patch16_224',
           pretrained_cfg_overlay=dict(file=...), num_classes=0)``
========== ====================================================== ========

mmseg's ``MAE`` backbone loads the checkpoint's bare keys (it ignores
``init_cfg.prefix``), hence no prefix for that target; timm reads the
``state_dict`` entry of the file as it is.
"""
import math
from dataclasses import replace
from typing import Any, Optional

from .checkpoint import CheckpointError, split_checkpoint, take_prefix
from .formats import (HPM, MMDET, MMPRETRAIN, RELEASED, VIT, VITDET,
                      detect_format)
from .keymaps import ENCODER, rename
from .released import Conversion, check_source

TARGETS = ('mmpretrain', 'mmdet', 'mmseg', 'timm')
#: Key prefix of the files written for each target.
TARGET_PREFIX = dict(
    mmpretrain='backbone.', mmdet='backbone.', mmseg='', timm='')

_HPM_PREFIX = dict(student='backbone.', teacher='teacher.module.backbone.')


def extract_encoder(obj: Any,
                    source: str = 'student',
                    prefix: Optional[str] = None) -> Conversion:
    """The pretrained encoder of a checkpoint, in bare ViT names.

    Args:
        obj (Any): A loaded checkpoint (any of
            :data:`hpm_mm.converters.formats.FORMATS`).
        source (str): 'student' or 'teacher' (released and hpm formats
            only; the others hold a single encoder).
        prefix (str, optional): Take the keys under this prefix instead of
            detecting the layout (e.g. ``'backbone.'``).

    Returns:
        Conversion: ``state`` in format ``vit`` (or ``vitdet`` when the
        input already was ViTDet weights); ``source_format`` is the
        container's format; ``unknown`` the released keys that are neither
        encoder nor decoder.

    Raises:
        CheckpointError: Unknown format, nothing under ``prefix``, or a
            teacher requested from a file without one.
    """
    check_source(source)
    main, ema = split_checkpoint(obj)
    if prefix:
        state = take_prefix(main, prefix)
        if not state:
            raise CheckpointError(f'no key starts with prefix {prefix!r} '
                                  f'(first keys: {", ".join(list(main)[:5])})')
        fmt = detect_format(state)
        if fmt not in (VIT, VITDET):
            raise CheckpointError(f'keys under {prefix!r} are not ViT '
                                  f'encoder weights (format {fmt!r})')
        return Conversion(state, fmt)

    fmt = detect_format(main)
    if fmt == RELEASED:
        if source == 'teacher' and ema is None:
            raise CheckpointError("source='teacher' needs 'ema_state_dict', "
                                  'which this checkpoint does not have')
        src = ema if source == 'teacher' else main
        enc, others = rename(src, ENCODER.right)
        decoder = ('mask_token', 'decoder_')
        unknown = [k for k in others if not k.startswith(decoder)]
        return Conversion(enc, fmt, unknown,
                          [f'encoder from the released {source}'])
    if fmt == HPM:
        state = take_prefix(main, _HPM_PREFIX[source])
        if not state:
            raise CheckpointError(
                f'no {source} encoder ({_HPM_PREFIX[source]}*) in the '
                'hpm checkpoint')
        return Conversion(state, fmt, notes=[f'encoder from the {source}'])
    if source == 'teacher':
        raise CheckpointError(f"source='teacher' needs a released or hpm "
                              f'pretraining checkpoint, got format {fmt!r}')
    if fmt in (MMPRETRAIN, MMDET):
        return Conversion(take_prefix(main, 'backbone.'), fmt)
    return Conversion(dict(main), fmt)


def _patch_pos_embed(pos, key='pos_embed'):
    """(1, 1 + L, C) with a cls position -> (1, h, w, C) of the patches."""
    if pos.ndim != 3 or pos.shape[0] != 1:
        raise CheckpointError(f'{key} has shape {tuple(pos.shape)}, expected '
                              '(1, 1 + L, C)')
    grid = math.isqrt(pos.shape[1] - 1)
    if grid * grid != pos.shape[1] - 1:
        raise CheckpointError(f'{key} has {pos.shape[1] - 1} patch positions '
                              '(plus cls), not a square grid')
    return pos[:, 1:].reshape(1, grid, grid, pos.shape[-1])


def encoder_to(target: str, enc: Conversion) -> Conversion:
    """Rename an extracted encoder for a downstream library.

    Args:
        target (str): One of :data:`TARGETS`.
        enc (Conversion): Output of :func:`extract_encoder`.

    Returns:
        Conversion: Bare keys (no prefix) for the target; keys the target
        has no use for are listed in ``unknown``.

    Raises:
        CheckpointError: Unknown target, or ViTDet weights for a target
            that needs the cls token.
    """
    if target not in TARGETS:
        raise CheckpointError(
            f'unknown target {target!r}; choose from {", ".join(TARGETS)}')
    if detect_format(enc.state) == VITDET:
        if target != 'mmdet':
            raise CheckpointError(
                f'ViTDet weights (no cls token) cannot be converted to '
                f'{target}; convert the pretraining checkpoint instead')
        return enc
    if target == 'timm':
        state, dropped = rename(enc.state, ENCODER.left)
        return replace(enc, state=state, unknown=enc.unknown + dropped)
    if target != 'mmdet':
        return enc
    state = {k: v for k, v in enc.state.items()
             if k != 'cls_token' and not k.startswith('ln1.')}
    if 'pos_embed' in state:
        state['pos_embed'] = _patch_pos_embed(state['pos_embed'])
    return replace(
        enc, state=state,
        unknown=enc.unknown + [k for k in enc.state if k not in state],
        notes=enc.notes + ['pos_embed: cls position dropped, patch grid '
                           'kept; ViTDet interpolates it to the input grid'])


def convert_encoder(obj: Any,
                    target: str,
                    source: str = 'student',
                    prefix: Optional[str] = None) -> Conversion:
    """:func:`extract_encoder` then :func:`encoder_to` (bare keys)."""
    return encoder_to(target, extract_encoder(obj, source, prefix))
