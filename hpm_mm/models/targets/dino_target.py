"""DINO ViT patch tokens as the reconstruction target (``dino``)."""
from typing import Dict, Optional, Union

import torch
from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS
from torch import Tensor

from hpm_mm.converters import ENCODER, take_prefix

from .base import FrozenNetworkTarget


@MODELS.register_module()
class DINOFeatureTarget(FrozenNetworkTarget):
    """Frozen ViT (DINO weights): final-norm patch tokens.

    The network is mmpretrain's :class:`VisionTransformer` (LayerNorm eps
    1e-6, qkv bias, final norm), the same computation as the timm ViT the
    authors load DINO into; it reads the student's ImageNet-normalised
    images and its cls token is dropped.

    The checkpoint may use timm names (DINO's released
    ``dino_vitbase16_pretrain.pth``, the authors' ``--dino_path``:
    ``blocks.0.attn.qkv.weight``, ...), which are renamed on loading, or
    mmpretrain names, bare or under ``backbone.`` (an mmpretrain ViT).

    Args:
        checkpoint (str): Path of the ViT weights.
        arch (str | dict): mmpretrain ViT arch. Defaults to 'b'.
        img_size (int): Input size. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        init_cfg (dict, optional): Unused.
    """

    def __init__(self,
                 checkpoint: str,
                 arch: Union[str, dict] = 'b',
                 img_size: int = 224,
                 patch_size: int = 16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(checkpoint, init_cfg=init_cfg)
        self.net = VisionTransformer(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            qkv_bias=True,
            final_norm=True,
            out_type='raw',
            norm_cfg=dict(type='LN', eps=1e-6))
        self.out_channels = self.net.embed_dims
        h, w = self.net.patch_resolution
        self.num_patches = h * w
        self.load_frozen(self._mmpretrain_names(self.read_state()))

    @staticmethod
    def _mmpretrain_names(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Rename timm keys; strip ``backbone.`` from mmpretrain ones.

        Keys with no mmpretrain name are kept as they are, so that loading
        reports them as unexpected.
        """
        if 'patch_embed.proj.weight' in state:
            return {ENCODER.right(k) or k: v for k, v in state.items()}
        return take_prefix(state, 'backbone.') or state

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                teacher_tokens: Optional[Tensor] = None) -> Tensor:
        """Final-norm patch tokens (B, L, C); the cls token is dropped."""
        return self.net(inputs)[-1][:, 1:]
