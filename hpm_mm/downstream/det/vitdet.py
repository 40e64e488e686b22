"""ViTDet's plain ViT backbone for mmdet: mmpretrain's SAM image encoder.

ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones for Object
Detection", ECCV 2022) fine-tunes an MAE-style ViT at 1024 px: most blocks
attend inside 14 x 14 windows, a few are global, every attention adds
decomposed relative position embeddings, and the pre-training absolute
position embedding (14 x 14) is interpolated to the input grid (64 x 64).
SAM's image encoder (mmpretrain's ``ViTSAM``) is the same network.
"""
from typing import Optional, Sequence, Tuple, Union

from mmdet.registry import MODELS
from mmpretrain.models.backbones.vit_sam import (TransformerEncoderLayer,
                                                 ViTSAM, window_partition,
                                                 window_unpartition)
from mmpretrain.models.utils import resize_pos_embed, to_2tuple
from torch import Tensor

from ..weights import PretrainedEncoder


class ViTDetBlock(TransformerEncoderLayer):
    """SAM's block with stochastic depth on both residual branches, as
    ViTDet's (SAM's drops the FFN branch only); same parameters."""

    def forward(self, x: Tensor) -> Tensor:
        """Window (or global) attention, then the MLP.

        Args:
            x (Tensor): Tokens (B, H, W, C).

        Returns:
            Tensor: Tokens (B, H, W, C).
        """
        shortcut = x
        x = self.ln1(x)
        if self.window_size > 0:
            H, W = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
        x = self.attn(x)
        if self.window_size > 0:
            x = window_unpartition(x, self.window_size, pad_hw, (H, W))
        x = shortcut + self.ffn.dropout_layer(x)  # the block's DropPath
        return self.ffn(self.ln2(x), identity=x)


@MODELS.register_module()
class ViTDet(PretrainedEncoder, ViTSAM):
    """Plain ViT backbone of ViTDet (mmdet registry).

    mmpretrain's ``ViTSAM`` without channel reduction, with ViTDet's
    differences: the absolute position embedding stays on the pre-training
    grid and is interpolated to the input grid at every forward, the
    relative position tables of the global blocks are sized for the input
    grid, stochastic depth drops both residual branches
    (:class:`ViTDetBlock`), and a ``Pretrained`` ``init_cfg`` reads any
    checkpoint format (:class:`PretrainedEncoder`; only the relative
    position tables may be missing).

    Args:
        arch (str | dict): 'base'/'b', 'large'/'l', 'huge'/'h' (global
            blocks 2, 5, 8, 11 / 5, 11, 17, 23 / 7, 15, 23, 31) or a dict
            with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and optionally ``global_attn_indexes``.
        img_size (int | tuple): Training input size. Defaults to 1024.
        pretrain_img_size (int | tuple): Pre-training image size, which
            sets the position grid (14 x 14 for 224 / 16). Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        global_attn_indexes (Sequence[int], optional): Overrides the arch's
            global blocks.
        **kwargs: Other arguments of ``ViTSAM`` (``window_size`` 14,
            ``use_rel_pos`` True, ``drop_path_rate`` 0, ``out_indices`` -1,
            ``norm_cfg``, ``interpolate_mode``, ``init_cfg``...).
    """
    target = 'mmdet'
    new_keys = ('layers.*.attn.rel_pos_h', 'layers.*.attn.rel_pos_w')

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 1024,
                 pretrain_img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 global_attn_indexes: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'ViTDet: unknown arch {arch!r}; choose '
                                 f'from {sorted(self.arch_zoo)} or a dict')
            arch = self.arch_zoo[arch.lower()]
        if global_attn_indexes is not None or \
                'global_attn_indexes' not in arch:
            arch = dict(
                arch, global_attn_indexes=list(global_attn_indexes or ()))
        grid = tuple(s // patch_size for s in to_2tuple(img_size))
        super().__init__(
            arch,
            img_size=pretrain_img_size,
            patch_size=patch_size,
            out_channels=0,
            layer_cfgs=dict(input_size=grid),
            **kwargs)
        for layer in self.layers:  # same module, ViTDet's forward
            layer.__class__ = ViTDetBlock

    def fit_checkpoint(self, state: dict) -> dict:
        """Resize a checkpoint's (1, h, w, C) position grid to ours."""
        pos, grid = state.get('pos_embed'), self.patch_resolution
        if pos is None or pos.ndim != 4 or pos.shape[1:3] == grid:
            return state
        pos = resize_pos_embed(
            pos.flatten(1, 2), tuple(pos.shape[1:3]), grid,
            self.interpolate_mode, 0)
        return dict(state, pos_embed=pos.reshape(1, *grid, -1))
