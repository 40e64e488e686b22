"""The model a converted file is for, built from the weights' architecture
(on the ``meta`` device where the library allows; one attention head, as
head counts change no shape): its state-dict shapes are the reference."""
import math
import re
from typing import Dict

import torch

from .checkpoint import CheckpointError, StateDict, take_prefix
from .keymaps import ENCODER, STUDENT, infer_clip_arch

Shapes = Dict[str, torch.Size]


def _need(state: StateDict, key: str, what: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f'cannot infer the {what}: missing key {key}')
    return state[key]


def _depth(state: StateDict, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    found = [int(m[1]) for m in map(pattern.match, state) if m]
    if not found:
        raise CheckpointError(f'cannot infer the depth: no {prefix}N.* key')
    return max(found) + 1


def infer_vit_arch(enc: StateDict) -> dict:
    """Architecture of an encoder in bare ViT (or ViTDet) names:
    ``embed_dims``, ``num_layers``, ``feedforward_channels``,
    ``patch_size``, ``in_channels``, ``grid`` (h, w) and ``img_size`` (grid
    * patch)."""
    dims, chans, patch, _ = _need(enc, 'patch_embed.projection.weight',
                                  'patch embedding').shape
    pos = _need(enc, 'pos_embed', 'position grid')
    side = math.isqrt(pos.shape[1] - 1)
    if pos.ndim != 4 and side * side != pos.shape[1] - 1:
        raise CheckpointError(f'pos_embed {tuple(pos.shape)} is not a '
                              'square grid plus a cls position')
    grid = tuple(pos.shape[1:3]) if pos.ndim == 4 else (side, side)
    ffn = _need(enc, 'layers.0.ffn.layers.0.0.weight', 'MLP width')
    return dict(embed_dims=int(dims), num_layers=_depth(enc, 'layers.'),
                feedforward_channels=int(ffn.shape[0]),
                patch_size=int(patch), in_channels=int(chans), grid=grid,
                img_size=(grid[0] * int(patch), grid[1] * int(patch)))


def _shapes(model: torch.nn.Module) -> Shapes:
    return {k: v.shape for k, v in model.state_dict().items()}


def reference(target: str, state: StateDict) -> Shapes:
    """Shapes of the model the ``target`` file ``state`` is for, in its
    names: ``VisionTransformer`` with a final norm (mmpretrain),
    :class:`ViTDet` with relative positions (mmdet), ``MAE`` as in the seg
    configs (mmseg), timm's ``VisionTransformer`` without head (built as
    mmpretrain's: the same parameters), :class:`HPM` (hpm, released) or
    CLIP's visual tower (clip-target).

    Raises:
        ImportError: In one line, without the target's library.
    """
    if target in ('timm', 'released'):  # the same model in timm names
        keymap = ENCODER if target == 'timm' else STUDENT
        shapes = reference('mmpretrain' if target == 'timm' else 'hpm',
                           keymap.rename(state)[0])
        return {keymap.left(k): v for k, v in shapes.items()
                if keymap.left(k)}
    if target == 'clip-target':
        from mmpretrain.models.utils.clip_generator_helper import \
            VisionTransformer
        with torch.device('meta'):
            return _shapes(VisionTransformer(**infer_clip_arch(state)))
    a = infer_vit_arch(take_prefix(state, 'backbone.') or state)
    vit = dict(img_size=a['img_size'], patch_size=a['patch_size'],
               in_channels=a['in_channels'])
    arch = dict(embed_dims=a['embed_dims'], num_layers=a['num_layers'],
                num_heads=1, feedforward_channels=a['feedforward_channels'])
    if target == 'mmseg':  # mmseg's MAE calls .item() while built: not meta
        import hpm_mm.downstream.seg  # noqa: F401  (one-line error w/o mmseg)
        from mmseg.models.backbones import MAE
        ratio = a['feedforward_channels'] / a['embed_dims']
        return _shapes(MAE(  # an int ratio: Linear sizes are ratio x dims
            embed_dims=a['embed_dims'], num_layers=a['num_layers'],
            num_heads=1, norm_cfg=dict(type='LN', eps=1e-6), init_values=1.,
            mlp_ratio=int(ratio) if ratio.is_integer() else ratio, **vit))
    with torch.device('meta'):
        if target == 'mmpretrain':
            from mmpretrain.models import VisionTransformer
            return _shapes(VisionTransformer(arch, final_norm=True, **vit))
        if target == 'mmdet':
            from hpm_mm.downstream.det import ViTDet
            return _shapes(ViTDet(dict(arch, global_attn_indexes=()),
                                  pretrain_img_size=a['img_size'], **vit))
        from hpm_mm.models import HPM
        dims = _need(state, 'neck.decoder_embed.weight', 'decoder').shape[0]
        fc1 = _need(state, 'neck.decoder_blocks.0.ffn.layers.0.0.weight',
                    'decoder MLP width')
        return _shapes(HPM(
            backbone=dict(type='HPMViT', arch=arch, img_size=a['img_size'],
                          patch_size=a['patch_size'],
                          patch_cfg=dict(in_channels=a['in_channels'])),
            neck=dict(type='HPMDecoder', patch_size=a['patch_size'],
                      in_chans=a['in_channels'], decoder_num_heads=1,
                      num_patches=a['grid'][0] * a['grid'][1],
                      embed_dim=a['embed_dims'], decoder_embed_dim=dims,
                      decoder_depth=_depth(state, 'neck.decoder_blocks.'),
                      mlp_ratio=fc1.shape[0] / dims),
            head=dict(type='HPMHead', patch_size=a['patch_size'],
                      in_channels=a['in_channels'])))
