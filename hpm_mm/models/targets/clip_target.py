"""CLIP visual tokens as the reconstruction target (``clip``)."""
from typing import Optional

import torch
from mmpretrain.models.utils.clip_generator_helper import \
    VisionTransformer as CLIPVisionTransformer
from mmpretrain.registry import MODELS
from torch import Tensor

from hpm_mm.converters import take_prefix

from .base import FrozenNetworkTarget

#: OpenAI CLIP ViT-B/16's visual tower.
CLIP_VIT_B16 = dict(
    input_resolution=224,
    patch_size=16,
    width=768,
    layers=12,
    heads=12,
    output_dim=512)


@MODELS.register_module()
class CLIPFeatureTarget(FrozenNetworkTarget):
    """Frozen CLIP visual tower: patch tokens after ``ln_post`` and ``proj``.

    The network is mmpretrain's CLIP ``VisionTransformer`` (the one MILAN's
    ``CLIPGenerator`` runs). As in the authors' code, it reads the same
    ImageNet-normalised images as the student and its cls token is dropped.

    The checkpoint is a plain state dict of OpenAI CLIP names: the whole
    model (``visual.*`` is used, the text tower is left out, as the authors'
    ``--clip_path`` and mmpretrain's MILAN checkpoints) or the visual tower
    alone (``conv1.weight``, ...). OpenAI's TorchScript ``ViT-B-16.pt`` is
    made into one with ``tools/convert_checkpoint.py --to clip-target``.

    Args:
        checkpoint (str): Path of the CLIP weights.
        arch (dict): Arguments of the visual tower (``input_resolution``,
            ``patch_size``, ``width``, ``layers``, ``heads``,
            ``output_dim``). Defaults to ViT-B/16 (512-d output).
        init_cfg (dict, optional): Unused.
    """

    def __init__(self,
                 checkpoint: str,
                 arch: dict = CLIP_VIT_B16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(checkpoint, init_cfg=init_cfg)
        arch = dict(arch)
        unknown = set(arch) - set(CLIP_VIT_B16)
        if unknown:
            raise ValueError(f'CLIPFeatureTarget: unknown arch keys '
                             f'{sorted(unknown)}')
        arch = {**CLIP_VIT_B16, **arch}
        self.net = CLIPVisionTransformer(**arch)
        self.out_channels = int(arch['output_dim'])
        self.num_patches = (arch['input_resolution'] //
                            arch['patch_size'])**2
        state = self.read_state()  # the visual tower of a whole model
        self.load_frozen(take_prefix(state, 'visual.') or state)

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                teacher_tokens: Optional[Tensor] = None) -> Tensor:
        """CLIP patch tokens (B, L, output_dim); the cls token is dropped."""
        tokens, _ = self.net(inputs)
        return tokens[:, 1:]
