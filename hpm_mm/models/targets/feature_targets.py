"""Reconstruction targets computed on the full image, with no gradient."""
from typing import Callable, Dict, Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils.clip_generator_helper import \
    VisionTransformer as CLIPVisionTransformer
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from hpm_mm.converters import (ENCODER, CheckpointError, clip_visual,
                               load_weights, read_state_dict, take_prefix)

from ..utils import parameters_to_buffers

#: OpenAI CLIP ViT-B/16's visual tower.
CLIP_VIT_B16 = dict(
    input_resolution=224,
    patch_size=16,
    width=768,
    layers=12,
    heads=12,
    output_dim=512)


class FeatureTarget(BaseModule):
    """Base of HPM's feature targets (mmpretrain's ``target_generator``).

    ``forward(inputs, teacher_tokens=None)`` maps the normalised images
    (B, 3, H, W) (and, for :attr:`from_teacher` targets, the EMA teacher's
    encoder tokens (B, 1 + L, C) of the same step, cls first) to one
    feature vector per patch, (B, L, C), with no gradient.

    Attributes:
        from_teacher (bool): Needs the teacher's tokens of the unmasked
            image (:class:`HPM` then runs the teacher's encoder every step).
        out_channels (int | None): C, or None when it is the encoder width.
        num_patches (int | None): L the target produces, or None when it
            follows the student.
    """

    from_teacher = False
    out_channels: Optional[int] = None
    num_patches: Optional[int] = None

    def init_weights(self) -> None:
        """Nothing to initialise: weights come from a checkpoint or none."""


@MODELS.register_module()
class EMAFeatureTarget(FeatureTarget):
    """Patch tokens of the EMA teacher's encoder on the full image.

    They come from the teacher forward that also scores the patches (no
    second pass); the width is the encoder's. No weights of its own.
    """

    from_teacher = True

    def forward(self,
                inputs: Tensor,
                teacher_tokens: Optional[Tensor] = None) -> Tensor:
        """The teacher's patch tokens (B, L, C); the cls token is dropped."""
        return teacher_tokens[:, 1:].detach()


class FrozenNetworkTarget(FeatureTarget):
    """A network ``net`` loaded from a checkpoint, never trained.

    The weights become non-persistent buffers: the optimizer never sees
    them, they get no gradient, and training checkpoints do not carry them
    (they are read again from ``checkpoint`` whenever the model is built).
    The network stays in eval mode whatever :meth:`train` is asked.

    Args:
        net (nn.Module): The target network.
        checkpoint (str): Path (or URL) of its weights.
        read (callable): Reads ``checkpoint`` into a state dict of ``net``'s
            names; its :class:`CheckpointError` is prefixed with the class.

    Raises:
        CheckpointError: A file that cannot be read, or keys and shapes that
            do not fit ``net`` (one line by
            :func:`~hpm_mm.converters.load_weights`).
    """

    def __init__(self, net: nn.Module, checkpoint: str,
                 read: Callable[[str], Dict[str, Tensor]]) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError(f'{name}: checkpoint must be a path, got '
                             f'{checkpoint!r}')
        try:
            state = read(checkpoint)
        except CheckpointError as err:
            raise CheckpointError(f'{name}: {err}') from None
        load_weights(net, state, f'{name}: checkpoint {checkpoint}')
        parameters_to_buffers(net, persistent=False)
        self.net, self.checkpoint = net, checkpoint
        net.eval()  # mmpretrain's ViT.train() returns None
        print_log(f'{name}: loaded {len(state)} tensors from {checkpoint}',
                  logger='current')

    def train(self, mode: bool = True) -> 'FrozenNetworkTarget':
        """Keep the target network in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.net.eval()
        return self


@MODELS.register_module()
class CLIPFeatureTarget(FrozenNetworkTarget):
    """Frozen CLIP visual tower: patch tokens after ``ln_post`` and ``proj``.

    The network is mmpretrain's CLIP ``VisionTransformer`` (the one MILAN's
    ``CLIPGenerator`` runs). As in the authors' code, it reads the same
    ImageNet-normalised images as the student and its cls token is dropped.

    The checkpoint is read by :func:`~hpm_mm.converters.clip_visual`:
    OpenAI's TorchScript ``ViT-B-16.pt``, or a state dict of OpenAI CLIP
    names, the whole model (``visual.*`` is used, the text tower is left
    out, as the authors' ``--clip_path`` and mmpretrain's MILAN checkpoints)
    or the visual tower alone (``conv1.weight``, ...).

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
        unknown = set(arch) - set(CLIP_VIT_B16)
        if unknown:
            raise ValueError(f'CLIPFeatureTarget: unknown arch keys '
                             f'{sorted(unknown)}')
        arch = {**CLIP_VIT_B16, **arch}
        super().__init__(CLIPVisionTransformer(**arch), checkpoint,
                         lambda path: clip_visual(path).state)
        self.out_channels = int(arch['output_dim'])
        self.num_patches = (arch['input_resolution'] //
                            arch['patch_size'])**2

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                teacher_tokens: Optional[Tensor] = None) -> Tensor:
        """CLIP patch tokens (B, L, output_dim); the cls token is dropped."""
        return self.net(inputs)[0][:, 1:]


def _dino_state(path: str) -> Dict[str, Tensor]:
    """The mmpretrain ViT names of a DINO checkpoint: timm keys renamed
    (unmatched ones kept, to be reported as unexpected), ``backbone.``
    stripped from mmpretrain ones."""
    state = read_state_dict(path)
    if 'patch_embed.proj.weight' in state:
        return {ENCODER.right(k) or k: v for k, v in state.items()}
    return take_prefix(state, 'backbone.') or state


@MODELS.register_module()
class DINOFeatureTarget(FrozenNetworkTarget):
    """Frozen ViT (DINO weights): final-norm patch tokens.

    The network is mmpretrain's :class:`VisionTransformer` (LayerNorm eps
    1e-6, qkv bias, final norm), the same computation as the timm ViT the
    authors load DINO into; it reads the student's ImageNet-normalised
    images and its cls token is dropped.

    The checkpoint may use timm names (DINO's released
    ``dino_vitbase16_pretrain.pth``, the authors' ``--dino_path``:
    ``blocks.0.attn.qkv.weight``, ...) or mmpretrain names, bare or under
    ``backbone.`` (an mmpretrain ViT).

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
        net = VisionTransformer(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            qkv_bias=True,
            final_norm=True,
            out_type='raw',
            norm_cfg=dict(type='LN', eps=1e-6))
        super().__init__(net, checkpoint, _dino_state)
        self.out_channels = net.embed_dims
        self.num_patches = net.patch_resolution[0] * net.patch_resolution[1]

    @torch.no_grad()
    def forward(self,
                inputs: Tensor,
                teacher_tokens: Optional[Tensor] = None) -> Tensor:
        """Final-norm patch tokens (B, L, C); the cls token is dropped."""
        return self.net(inputs)[-1][:, 1:]
