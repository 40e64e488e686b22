"""The VideoMAE encoder: mmaction's ViT driven by an explicit token mask."""
from typing import Optional, Tuple, Union

import torch
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmpretrain.registry import MODELS
from torch import Tensor

from ..models.algorithms.hpm import init_mae_weights

@MODELS.register_module()
class VideoMAEViT(VisionTransformer):
    """mmaction's VideoMAE ViT that encodes the visible tokens of a mask.

    The network is mmaction's :class:`VisionTransformer` with
    ``use_mean_pooling=False`` (a final LayerNorm ``norm``), so its keys are
    mmaction's: Conv3d tubelet embedding, fixed sin-cos ``pos_embed`` table
    (a buffer), blocks with learned q and v biases, LN eps 1e-6. Token
    ``n = t * Hp * Wp + h * Wp + w`` of the (T / tubelet_size, Hp, Wp)
    grid. Without ``init_cfg``, :meth:`init_weights` gives the reference's
    init: xavier-uniform Linear with zero bias, LayerNorm (1, 0), the Conv3d
    at PyTorch's default.

    Args:
        img_size (int): Frame size; divisible by ``patch_size``. Defaults
            to 224.
        patch_size (int): Spatial patch size. Defaults to 16.
        embed_dims (int): Width C. Defaults to 768.
        depth (int): Blocks. Defaults to 12.
        num_heads (int): Attention heads. Defaults to 12.
        num_frames (int): Frames T per clip; divisible by ``tubelet_size``.
            Defaults to 16.
        tubelet_size (int): Frames per token. Defaults to 2.
        mask_ratio (float): Masked fraction of each time step's Hp * Wp
            positions, in (0, 1); ``int(mask_ratio * Hp * Wp)`` per step.
            Defaults to 0.9.
        init_cfg (dict, optional): Replaces the reference init (e.g.
            ``Pretrained``). Defaults to None.
        **kwargs: Other arguments of mmaction's :class:`VisionTransformer`
            (``in_channels``, ``mlp_ratio``, ``drop_path_rate``, ...).

    Attributes:
        grid (tuple[int, int, int]): (T / tubelet_size, Hp, Wp).
        num_patches (int): Tokens per clip, N.
        num_masked_per_frame (int): Masked positions per time step.
        num_masked (int): Masked tokens per clip, M.
        num_visible (int): Visible tokens per clip, K = N - M.
    """

    def __init__(self,
                 img_size: int = 224,
                 patch_size: int = 16,
                 embed_dims: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 num_frames: int = 16,
                 tubelet_size: int = 2,
                 mask_ratio: float = 0.9,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        for arg, val in (('img_size', img_size), ('patch_size', patch_size),
                         ('num_frames', num_frames),
                         ('tubelet_size', tubelet_size)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(
                    f'{name}: {arg} must be a positive int, got {val!r}')
        if img_size % patch_size:
            raise ValueError(f'{name}: img_size {img_size} is not divisible '
                             f'by patch_size {patch_size}')
        if num_frames % tubelet_size:
            raise ValueError(f'{name}: num_frames {num_frames} is not '
                             f'divisible by tubelet_size {tubelet_size}')
        if not 0.0 < float(mask_ratio) < 1.0:
            raise ValueError(
                f'{name}: mask_ratio must be in (0, 1), got {mask_ratio}')
        per_frame = (img_size // patch_size)**2
        masked = int(mask_ratio * per_frame)  # the reference's rounding
        if not 0 < masked < per_frame:
            raise ValueError(
                f'{name}: mask_ratio {mask_ratio} masks {masked} of the '
                f'{per_frame} positions of a time step; need 1 to '
                f'{per_frame - 1}')
        super().__init__(
            img_size=img_size,
            patch_size=patch_size,
            embed_dims=embed_dims,
            depth=depth,
            num_heads=num_heads,
            num_frames=num_frames,
            tubelet_size=tubelet_size,
            use_mean_pooling=False,
            init_cfg=init_cfg,
            **kwargs)
        self.num_frames = num_frames
        self.grid = (num_frames // tubelet_size, ) + self.grid_size
        self.num_patches = self.grid[0] * per_frame
        self.num_masked_per_frame = masked
        self.num_masked = self.grid[0] * masked
        self.num_visible = self.num_patches - self.num_masked

    def init_weights(self) -> None:
        """The reference init, unless an ``init_cfg`` replaces it."""
        super().init_weights()
        if not self.init_cfg:
            init_mae_weights(self)  # Linear and LayerNorm; Conv3d untouched

    def forward(
        self,
        x: Tensor,
        mask: Optional[Tensor] = None
    ) -> Union[Tuple[Tensor], Tuple[Tensor, Tensor, Tensor]]:
        """Encode clips, the visible tokens only when given a mask.

        Args:
            x (Tensor): Normalised clips (B, 3, T, H, W).
            mask (Tensor, optional): Boolean (B, N), True = masked, exactly
                ``num_masked`` True per row. None: encode all N tokens.

        Returns:
            tuple: With a mask, latent (B, K, C) (the visible tokens in
            increasing n), mask (B, N) and ids_restore (B, N) (the rank of
            each token in the visible-then-masked order, each part in
            increasing n); without, one (B, N, C) tensor.
        """
        size = (self.num_frames, ) + tuple(
            s * self.patch_size for s in self.grid_size)
        if x.dim() != 5 or tuple(x.shape[2:]) != size:
            raise ValueError(f'{type(self).__name__}: clips must be (B, C, '
                             f'{", ".join(map(str, size))}), got '
                             f'{tuple(x.shape)}')
        x = self.pos_drop(self.patch_embed(x)[0] + self.pos_embed)
        ids_restore = None
        if mask is not None:
            if mask.shape != x.shape[:2]:
                raise ValueError(
                    f'{type(self).__name__}: mask must be '
                    f'{tuple(x.shape[:2])}, got {tuple(mask.shape)}')
            # visible tokens first, masked after, each in increasing n
            ids_shuffle = torch.argsort(
                mask.to(torch.uint8), dim=1, stable=True)
            ids_restore = torch.argsort(ids_shuffle, dim=1)
            ids_keep = ids_shuffle[:, :self.num_visible]
            x = torch.gather(
                x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return (x, ) if mask is None else (x, mask, ids_restore)
