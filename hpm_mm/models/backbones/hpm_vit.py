"""The HPM encoder: mmpretrain's MAE ViT driven by an explicit patch mask."""
from typing import Tuple, Union

import torch
from mmpretrain.models.selfsup.mae import MAEViT
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class HPMViT(MAEViT):
    """MAE ViT that encodes the visible patches of a given boolean mask.

    The network is mmpretrain's :class:`MAEViT` unchanged (same parameter
    names, same sin-cos position embedding, same initialisation); only the
    choice of masked patches moves out of the backbone, so the masker can
    pick them from the teacher's predicted losses.

    Args:
        img_size (int): Input image size; must be divisible by
            ``patch_size``. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        mask_ratio (float): Fraction of patches to mask, in (0, 1).
            Defaults to 0.75.
        **kwargs: Other arguments of :class:`MAEViT`.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: int = 224,
                 patch_size: int = 16,
                 mask_ratio: float = 0.75,
                 **kwargs) -> None:
        if isinstance(arch, str) and arch.lower() not in self.arch_zoo:
            raise ValueError(f'HPMViT: arch {arch!r} is not one of '
                             f'{sorted(self.arch_zoo)}')
        if not 0.0 < float(mask_ratio) < 1.0:
            raise ValueError(
                f'HPMViT: mask_ratio must be in (0, 1), got {mask_ratio}')
        sizes = img_size if isinstance(img_size, (tuple, list)) else (
            img_size, img_size)
        if any(s % patch_size for s in sizes):
            raise ValueError(f'HPMViT: img_size {img_size} is not divisible '
                             f'by patch_size {patch_size}')
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            mask_ratio=mask_ratio,
            **kwargs)
        # Same rounding as MAE: K = int(L * (1 - r)) visible patches.
        self.num_visible = int(self.num_patches * (1 - mask_ratio))
        self.num_masked = self.num_patches - self.num_visible
        if self.num_visible < 1:
            raise ValueError(f'HPMViT: mask_ratio {mask_ratio} leaves no '
                             f'visible patch of {self.num_patches}')

    def forward(
        self,
        x: Tensor,
        mask: Union[None, bool, Tensor] = True
    ) -> Union[Tuple[Tensor, ...], Tuple[Tensor, Tensor, Tensor]]:
        """Encode images, optionally with a patch mask.

        Args:
            x (Tensor): Images of shape (B, 3, H, W).
            mask (Tensor | bool | None): A boolean tensor of shape (B, L),
                True = masked, with exactly ``num_masked`` True per row: only
                the visible patches (and the cls token) are encoded.
                ``True`` draws MAE's uniform random mask; ``None``/``False``
                encodes every patch (plain ViT forward).

        Returns:
            tuple: With a mask, latent (B, 1 + K, C) (cls, then the visible
            patches in position order), mask (B, L) and ids_restore (B, L)
            (undoes the visible-first order). Without, :class:`MAEViT`'s
            outputs (default ``out_type='raw'``: (B, 1 + L, C)).
        """
        if not isinstance(mask, Tensor):  # MAEViT would mask on False
            return super().forward(x, mask=mask or None)
        B, L = mask.shape
        if L != self.num_patches:
            raise ValueError(f'HPMViT: mask has {L} patches, the backbone '
                             f'{self.num_patches}')
        # Visible patches first (in position order), masked ones after.
        ids_shuffle = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :self.num_visible]

        x = self.patch_embed(x)[0] + self.pos_embed[:, 1:, :]
        x = torch.gather(
            x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        cls_token = (self.cls_token + self.pos_embed[:, :1, :]).expand(
            B, -1, -1)
        x = torch.cat((cls_token, x), dim=1)
        for layer in self.layers:
            x = layer(x)
        x = self.norm1(x)
        return x, mask, ids_restore
