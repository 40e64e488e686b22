"""Reconstruction targets computed on the full image, with no gradient."""
import os.path as osp
from typing import Dict, Optional

from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from hpm_mm.converters import (CheckpointError, is_torchscript, load_weights,
                               read_state_dict)

from ..utils import parameters_to_buffers


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
        if teacher_tokens is None:
            raise ValueError('EMAFeatureTarget: needs the teacher tokens of '
                             'the step (HPM passes them)')
        return teacher_tokens[:, 1:].detach()


class FrozenNetworkTarget(FeatureTarget):
    """A target network ``self.net`` loaded from a checkpoint, never trained.

    Subclasses build ``self.net`` and call :meth:`load_frozen`. The weights
    become non-persistent buffers: the optimizer never sees them, they get
    no gradient, and training checkpoints do not carry them (they are read
    again from ``checkpoint`` whenever the model is built). The network
    stays in eval mode whatever :meth:`train` is asked.

    Args:
        checkpoint (str): Path (or URL) of the target network's weights.
        init_cfg (dict, optional): Unused; the weights are the checkpoint's.
    """

    def __init__(self, checkpoint: str,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError(f'{type(self).__name__}: checkpoint must be a '
                             f'path, got {checkpoint!r}')
        self.checkpoint = checkpoint

    def read_state(self) -> Dict[str, Tensor]:
        """The tensors of :attr:`checkpoint` (``state_dict``/``model`` if
        present), without a ``module.`` prefix.

        Raises:
            CheckpointError: Missing or unreadable file, or no tensors.
        """
        name = type(self).__name__
        if osp.isfile(self.checkpoint) and is_torchscript(self.checkpoint):
            raise CheckpointError(
                f'{name}: {self.checkpoint} is a TorchScript archive (as '
                "OpenAI's CLIP release); convert it with tools/"
                'convert_checkpoint.py SRC DST --to clip-target')
        try:
            return read_state_dict(self.checkpoint)
        except CheckpointError as err:
            raise CheckpointError(f'{name}: {err}') from None

    def load_frozen(self, state: Dict[str, Tensor]) -> None:
        """Load ``state`` into ``self.net`` exactly, then freeze it.

        Raises:
            CheckpointError: Keys missing or unexpected, or shapes that
                differ, summarised in one line by
                :func:`~hpm_mm.converters.load_weights`.
        """
        load_weights(self.net, state,
                     f'{type(self).__name__}: checkpoint {self.checkpoint}')
        parameters_to_buffers(self.net, persistent=False)
        self.net.eval()
        print_log(
            f'{type(self).__name__}: loaded {len(state)} tensors from '
            f'{self.checkpoint}', logger='current')

    def train(self, mode: bool = True) -> 'FrozenNetworkTarget':
        """Keep the target network in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.net.eval()
        return self
