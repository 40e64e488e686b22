"""The EMA teacher's own encoder tokens as the target (``ema``)."""
from typing import Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from .base import FeatureTarget


@MODELS.register_module()
class EMAFeatureTarget(FeatureTarget):
    """Patch tokens of the EMA teacher's encoder on the full image.

    :class:`HPM` runs the teacher's encoder once per step on the unmasked
    image; its final-norm tokens serve both the patch scores and this
    target, so no second teacher pass is made. The width is the encoder's.
    No weights of its own.
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
