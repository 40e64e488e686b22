"""ViTDet's plain ViT backbone for mmdet, built from mmpretrain's SAM layers.

ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones for Object
Detection", ECCV 2022) fine-tunes an MAE-style ViT at 1024 px: most blocks
attend inside 14 x 14 windows, a few are global, every attention adds
decomposed relative position embeddings, and the pre-training absolute
position embedding (14 x 14) is interpolated to the input grid (64 x 64).
SAM's image encoder is the same network, so mmpretrain's ``vit_sam`` layers
(window partition, decomposed relative positions) are reused here.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vit_sam import (TransformerEncoderLayer,
                                                 ViTSAM, window_partition,
                                                 window_unpartition)
from mmpretrain.models.utils import resize_pos_embed, to_2tuple
from torch import Tensor, nn

from ..weights import is_pretrained, load_pretrained


class ViTDetBlock(TransformerEncoderLayer):
    """A SAM/ViTDet block with stochastic depth on both residual branches.

    mmpretrain's layer drops paths in the FFN branch only; ViTDet drops
    both. Parameter names are unchanged (``ln1``, ``attn.qkv``,
    ``attn.proj``, ``attn.rel_pos_h/w``, ``ln2``, ``ffn.layers.*``), so an
    mmpretrain ViT block loads as is.

    Args:
        drop_path_rate (float): Stochastic depth rate of this block.
        **kwargs: Other arguments of mmpretrain's SAM
            ``TransformerEncoderLayer`` (``window_size`` 0 = global).
    """

    def __init__(self, drop_path_rate: float = 0., **kwargs) -> None:
        super().__init__(drop_path_rate=drop_path_rate, **kwargs)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()

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
        x = shortcut + self.drop_path(x)
        return self.ffn(self.ln2(x), identity=x)


@MODELS.register_module()
class ViTDet(BaseModule):
    """Plain ViT backbone of ViTDet (mmdet registry).

    Args:
        arch (str | dict): 'base'/'b', 'large'/'l', 'huge'/'h' (with
            ViTDet's global blocks 2, 5, 8, 11 / 5, 11, 17, 23 / 7, 15, 23,
            31) or a dict with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and optionally ``global_attn_indexes``.
        img_size (int | tuple): Training input size; sets the relative
            position tables of the global blocks. Defaults to 1024.
        pretrain_img_size (int | tuple): Image size of pre-training; the
            absolute position embedding is kept on this grid (14 x 14 for
            224 / 16) and interpolated to the input grid at every forward.
            Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        window_size (int): Attention window of the non-global blocks; 0
            makes every block global. Defaults to 14.
        global_attn_indexes (Sequence[int], optional): Overrides the arch's
            global blocks.
        use_rel_pos (bool): Decomposed relative position embeddings (zero
            initialised). Defaults to True.
        drop_path_rate (float): Stochastic depth, linear over depth.
            Defaults to 0.1.
        qkv_bias (bool): Bias of the qkv projection. Defaults to True.
        norm_cfg (dict): Norm of the blocks. Defaults to LN, eps 1e-6.
        out_indices (int | Sequence[int]): Blocks whose output is returned.
            Defaults to -1 (the last one, what ViTDet uses).
        interpolate_mode (str): Position embedding interpolation. Defaults
            to 'bicubic'.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=..., source='student'|'teacher', prefix=None)``
            loads an hpm_mm/released/mmpretrain/converted checkpoint through
            :func:`load_pretrained` (format detected; missing, unexpected
            and mis-shaped keys reported; only the relative position tables
            may be missing).
    """
    arch_zoo = ViTSAM.arch_zoo

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 1024,
                 pretrain_img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 window_size: int = 14,
                 global_attn_indexes: Optional[Sequence[int]] = None,
                 use_rel_pos: bool = True,
                 drop_path_rate: float = 0.1,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 out_indices: Union[int, Sequence[int]] = -1,
                 interpolate_mode: str = 'bicubic',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = self._arch_settings(arch)
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        if global_attn_indexes is None:
            global_attn_indexes = settings.get('global_attn_indexes', ())
        self.global_attn_indexes = tuple(int(i) for i in global_attn_indexes)
        self.window_size = int(window_size)
        self.interpolate_mode = interpolate_mode

        img_size, pretrain_img_size = to_2tuple(img_size), to_2tuple(
            pretrain_img_size)
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            input_size=img_size,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size)
        self.patch_resolution = self.patch_embed.init_out_size
        self.pos_grid = (pretrain_img_size[0] // patch_size,
                         pretrain_img_size[1] // patch_size)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, *self.pos_grid, self.embed_dims))

        self.out_indices = self._out_indices(out_indices)
        dpr = np.linspace(0, drop_path_rate, self.num_layers)
        self.layers = ModuleList([
            ViTDetBlock(
                embed_dims=self.embed_dims,
                num_heads=settings['num_heads'],
                feedforward_channels=settings['feedforward_channels'],
                drop_path_rate=float(dpr[i]),
                qkv_bias=qkv_bias,
                norm_cfg=norm_cfg,
                use_rel_pos=use_rel_pos,
                window_size=0 if i in self.global_attn_indexes else
                self.window_size,
                input_size=self.patch_resolution)
            for i in range(self.num_layers)
        ])

    def _arch_settings(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'ViTDet: unknown arch {arch!r}; choose '
                                 f'from {sorted(self.arch_zoo)} or a dict')
            return self.arch_zoo[arch.lower()]
        need = {'embed_dims', 'num_layers', 'num_heads',
                'feedforward_channels'}
        if not isinstance(arch, dict) or not need <= set(arch):
            raise ValueError(f'ViTDet: a custom arch needs the keys {need}')
        return arch

    def _out_indices(self, out_indices) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        result = []
        for i in out_indices:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise ValueError(f'ViTDet: out index {i} is out of range '
                                 f'for {self.num_layers} layers')
            result.append(j)
        return tuple(result)

    def init_weights(self) -> None:
        """Truncated-normal init (ViTDet's), then the pretrained encoder.

        A ``Pretrained`` ``init_cfg`` goes through :func:`load_pretrained`;
        any other ``init_cfg`` is applied by mmengine afterwards.
        """
        trunc_normal_(self.pos_embed, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if is_pretrained(self.init_cfg):
            load_pretrained(
                self,
                self.init_cfg,
                target='mmdet',
                allowed_missing=('layers.*.attn.rel_pos_h',
                                 'layers.*.attn.rel_pos_w'),
                prepare=self._fit_pos_embed)
        elif self.init_cfg is not None:
            super().init_weights()
        self._is_init = True

    def _fit_pos_embed(self, state: dict) -> dict:
        """Resize a checkpoint's (1, h, w, C) position grid to ours."""
        pos = state.get('pos_embed')
        if pos is None or pos.ndim != 4 or tuple(pos.shape[1:3]) == \
                self.pos_grid:
            return state
        resized = resize_pos_embed(
            pos.flatten(1, 2),
            tuple(pos.shape[1:3]),
            self.pos_grid,
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        state = dict(state)
        state['pos_embed'] = resized.reshape(1, *self.pos_grid, -1)
        return state

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode images.

        Args:
            x (Tensor): Images (B, 3, H, W).

        Returns:
            tuple[Tensor]: Feature maps (B, C, H / p, W / p) of the blocks
            in ``out_indices``.
        """
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        pos = resize_pos_embed(
            self.pos_embed.flatten(1, 2),
            self.pos_grid,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        x = (x + pos).view(B, hw[0], hw[1], self.embed_dims)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer-wise lr decay depth of a parameter, as ViTDet counts it.

        Position/patch embeddings are depth 0, block ``i`` depth ``i + 1``,
        everything else (neck, heads) the last depth ``num_layers + 1``.

        Args:
            param_name (str): Parameter name in the detector.
            prefix (str): Prefix of this backbone's parameters.

        Returns:
            tuple[int, int]: Depth and number of depths (num_layers + 2).
        """
        num_depths = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        if name.startswith(('pos_embed', 'patch_embed')):
            return 0, num_depths
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_depths
        return num_depths - 1, num_depths
