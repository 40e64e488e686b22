"""Check converted weights against the model that will load them.

The architecture (width, depth, MLP width, patch and image size, decoder
shape) is read off the weights; the target model is built with it (on the
``meta`` device where the library allows, so nothing is allocated) and its
state-dict shapes are compared with the converted ones. Attention head
counts do not change any shape the checkpoints hold, so a valid divisor is
used.
"""
import math
import re
from typing import Dict

import torch

from .checkpoint import CheckpointError, StateDict, take_prefix
from .keymaps import ENCODER, rename

Shapes = Dict[str, torch.Size]


def _need(state: StateDict, key: str, what: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f'cannot infer the {what}: missing key {key}')
    return state[key]


def _depth(state: StateDict, prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r'(\d+)\.')
    idx = {int(m.group(1)) for m in map(pat.match, state) if m}
    if not idx:
        raise CheckpointError(f'cannot infer the depth: no {prefix}N.* key')
    if idx != set(range(max(idx) + 1)):
        gaps = sorted(set(range(max(idx) + 1)) - idx)
        raise CheckpointError(f'blocks missing from {prefix}*: {gaps}')
    return max(idx) + 1


def infer_vit_arch(enc: StateDict) -> dict:
    """Architecture of an encoder in bare ViT (or ViTDet) names.

    Returns:
        dict: ``embed_dims``, ``num_layers``, ``feedforward_channels``,
        ``num_heads`` (a valid head count, not necessarily the trained
        one), ``patch_size``, ``in_channels``, ``grid`` (h, w) of the
        position embedding and ``img_size`` (grid * patch).
    """
    patch = _need(enc, 'patch_embed.projection.weight', 'patch embedding')
    embed_dims, in_channels, p, _ = patch.shape
    pos = _need(enc, 'pos_embed', 'position grid')
    if pos.ndim == 4:
        grid = tuple(pos.shape[1:3])
    else:
        side = math.isqrt(pos.shape[1] - 1)
        if side * side != pos.shape[1] - 1:
            raise CheckpointError(f'pos_embed {tuple(pos.shape)} is not a '
                                  'square grid plus a cls position')
        grid = (side, side)
    ffn = _need(enc, 'layers.0.ffn.layers.0.0.weight', 'MLP width')
    return dict(
        embed_dims=int(embed_dims),
        num_layers=_depth(enc, 'layers.'),
        feedforward_channels=int(ffn.shape[0]),
        num_heads=1,
        patch_size=int(p),
        in_channels=int(in_channels),
        grid=grid,
        img_size=(grid[0] * int(p), grid[1] * int(p)))


def _vit_arch(a: dict) -> dict:
    return {k: a[k] for k in ('embed_dims', 'num_layers', 'num_heads',
                              'feedforward_channels')}


def _shapes(model: torch.nn.Module) -> Shapes:
    return {k: v.shape for k, v in model.state_dict().items()}


def hpm_reference(state: StateDict) -> Shapes:
    """State-dict shapes of the :class:`HPM` model these weights fit."""
    from mmpretrain.registry import MODELS
    import hpm_mm.models  # noqa: F401  (registration)
    a = infer_vit_arch(take_prefix(state, 'backbone.'))
    dims = int(_need(state, 'neck.decoder_embed.weight', 'decoder width')
               .shape[0])
    fc1 = _need(state, 'neck.decoder_blocks.0.ffn.layers.0.0.weight',
                'decoder MLP width')
    patch, chans = a['patch_size'], a['in_channels']
    cfg = dict(
        type='HPM',
        backbone=dict(type='HPMViT', arch=_vit_arch(a), patch_size=patch,
                      img_size=a['img_size'],
                      patch_cfg=dict(in_channels=chans)),
        neck=dict(type='HPMDecoder', num_patches=a['grid'][0] * a['grid'][1],
                  patch_size=patch, in_chans=chans,
                  embed_dim=a['embed_dims'], decoder_embed_dim=dims,
                  decoder_depth=_depth(state, 'neck.decoder_blocks.'),
                  decoder_num_heads=1, mlp_ratio=fc1.shape[0] / dims),
        head=dict(type='HPMHead', patch_size=patch, in_channels=chans))
    with torch.device('meta'):
        return _shapes(MODELS.build(cfg))


def encoder_reference(target: str, enc: StateDict) -> Shapes:
    """Shapes of the downstream backbone these (target-named) weights fit.

    Args:
        target (str): 'mmpretrain', 'mmdet', 'mmseg' or 'timm'.
        enc (dict): Converted weights, bare keys.

    Returns:
        dict: Key -> shape, bare keys. mmpretrain: ``VisionTransformer``
        with a final norm; mmdet: :class:`ViTDet` with relative positions;
        mmseg: ``MAE`` as in the seg configs (``final_norm=False``, layer
        scale, relative position bias); timm: timm's ``VisionTransformer``
        with a cls token, final norm and no head (``num_classes=0``), built
        as mmpretrain's (same parameters) so timm is not needed here.

    Raises:
        ImportError: In one line, when the target's library (mmdet or
            mmseg, and mmcv with ops) is not installed.
    """
    if target == 'timm':
        # timm's ViT holds exactly mmpretrain's parameters, in timm names
        vit, _ = rename(enc, ENCODER.right)
        ref = encoder_reference('mmpretrain', vit)
        return {ENCODER.left(k): v for k, v in ref.items()}
    a = infer_vit_arch(enc)
    common = dict(img_size=a['img_size'], patch_size=a['patch_size'],
                  in_channels=a['in_channels'])
    if target == 'mmpretrain':
        from mmpretrain.models import VisionTransformer
        with torch.device('meta'):
            return _shapes(VisionTransformer(arch=_vit_arch(a),
                                             final_norm=True, **common))
    if target == 'mmdet':
        from hpm_mm.downstream.det import ViTDet
        with torch.device('meta'):
            return _shapes(ViTDet(
                arch=dict(_vit_arch(a), global_attn_indexes=()),
                pretrain_img_size=a['img_size'], **common))
    if target == 'mmseg':
        import hpm_mm.downstream.seg  # noqa: F401  (one-line error w/o mmseg)
        from mmseg.models.backbones import MAE

        # mmseg's MAE calls .item() while building: not on 'meta'.
        ratio = a['feedforward_channels'] / a['embed_dims']
        return _shapes(MAE(
            embed_dims=a['embed_dims'], num_layers=a['num_layers'],
            num_heads=1, mlp_ratio=int(ratio) if ratio.is_integer() else ratio,
            norm_cfg=dict(type='LN', eps=1e-6), init_values=1.0, **common))
    raise CheckpointError(f'unknown target {target!r}')
