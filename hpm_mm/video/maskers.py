"""Tube masks: one spatial pattern per clip, repeated at every time step."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from ..models.maskers.hard_patch_masker import HardPatchMasker, top_ranked


def check_tube_shape(name: str, num_patches_per_frame: int,
                     num_masked_per_frame: int, num_frames: int) -> None:
    """One line naming ``name`` and the argument when the shape is wrong."""
    for arg, val in (('num_patches_per_frame', num_patches_per_frame),
                     ('num_frames', num_frames)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(
                f'{name}: {arg} must be a positive int, got {val!r}')
    if not 0 < num_masked_per_frame < num_patches_per_frame:
        raise ValueError(f'{name}: num_masked_per_frame must be in (0, '
                         f'{num_patches_per_frame}), got '
                         f'{num_masked_per_frame}')


@MODELS.register_module()
class TubeMasker(BaseModule):
    """VideoMAE's random tube mask.

    Per clip, ``num_masked_per_frame`` of the Hp * Wp spatial positions,
    drawn uniformly without replacement (the largest of one uniform number
    per position), are masked at every time step. Tokens are numbered
    ``n = t * Hp * Wp + s``.

    Args:
        num_patches_per_frame (int): Spatial positions Hp * Wp.
        num_masked_per_frame (int): Masked positions per time step.
        num_frames (int): Time steps T / tubelet_size.
    """

    def __init__(self, num_patches_per_frame: int, num_masked_per_frame: int,
                 num_frames: int) -> None:
        super().__init__()
        check_tube_shape('TubeMasker', num_patches_per_frame,
                         num_masked_per_frame, num_frames)
        self.num_patches_per_frame = num_patches_per_frame
        self.num_masked_per_frame = num_masked_per_frame
        self.num_frames = num_frames

    def forward(self,
                scores: Optional[Tensor] = None,
                batch_size: int = 1,
                device: Optional[torch.device] = None) -> Tensor:
        """Draw the masks of one batch.

        Args:
            scores (Tensor, optional): Unused (the masker interface of
                :class:`HardPatchMasker`).
            batch_size (int): B.
            device (torch.device, optional): Device of the mask.

        Returns:
            Tensor: Boolean (B, N), True = masked, N = num_frames *
            num_patches_per_frame, the same spatial pattern at every step.
        """
        noise = torch.rand(
            batch_size, self.num_patches_per_frame, device=device)
        return top_ranked(noise, self.num_masked_per_frame).repeat(
            1, self.num_frames)


@MODELS.register_module()
class HardTubeMasker(HardPatchMasker):
    """HPM's mined mask for clips: hard tubes.

    These video choices are ours: the HPM authors never released video
    code. The teacher's scores of the N tokens (B, N) are averaged over
    time into one score per spatial position (B, Hp * Wp);
    :class:`HardPatchMasker` masks ``n_hard = int(alpha_t * m)`` of the
    top-scored positions and ``m - n_hard`` random others (m =
    ``num_masked_per_frame``), and that spatial mask is repeated at every
    time step. With ``per_token=True`` it mines directly on the N tokens
    (``n_hard = int(alpha_t * M)`` of the M = num_frames * m masked tokens
    per clip; no tubes). ``alpha_t`` follows :class:`HardPatchMasker`'s
    schedule; at ``n_hard = 0`` the draw is :class:`TubeMasker`'s.

    Args:
        num_patches_per_frame (int): Spatial positions Hp * Wp.
        num_masked_per_frame (int): Masked positions per time step, m.
        num_frames (int): Time steps T / tubelet_size.
        per_token (bool): Mine on tokens instead of tubes. Defaults to
            False.
        **kwargs: :class:`HardPatchMasker`'s schedule and mining arguments
            (``alpha_max``, ``schedule``, ``fixed_alpha``, ``mine``,
            ``ramp``).
    """

    def __init__(self,
                 num_patches_per_frame: int,
                 num_masked_per_frame: int,
                 num_frames: int,
                 per_token: bool = False,
                 **kwargs) -> None:
        check_tube_shape('HardTubeMasker', num_patches_per_frame,
                         num_masked_per_frame, num_frames)
        steps = num_frames if per_token else 1
        super().__init__(
            num_patches=steps * num_patches_per_frame,
            num_masked=steps * num_masked_per_frame,
            **kwargs)
        self.per_token = bool(per_token)
        self.num_patches_per_frame = num_patches_per_frame
        self.num_masked_per_frame = num_masked_per_frame
        self.num_frames = num_frames

    def forward(self,
                scores: Optional[Tensor],
                batch_size: int,
                device: Optional[torch.device] = None) -> Tensor:
        """Draw the masks of one batch.

        Args:
            scores (Tensor, optional): Teacher's predicted losses (B, N) of
                every token; needed when :attr:`mines`.
            batch_size (int): B.
            device (torch.device, optional): Device of the mask (the scores'
                when given).

        Returns:
            Tensor: Boolean (B, N), True = masked, M per clip (tubes: the
            same m positions at every time step).
        """
        if self.mines:
            num = self.num_frames * self.num_patches_per_frame
            if scores is None or scores.shape != (batch_size, num):
                raise ValueError('HardTubeMasker: mining needs scores of '
                                 f'shape ({batch_size}, {num})')
            scores = self.pool(scores)
        return self.expand(super().forward(scores, batch_size, device))

    def pool(self, scores: Tensor) -> Tensor:
        """The scores of what is drawn: each spatial position's mean over
        time (B, Hp * Wp), or the tokens' own (B, N) with ``per_token``."""
        if self.per_token:
            return scores
        return scores.view(scores.shape[0], self.num_frames, -1).mean(1)

    def expand(self, flags: Tensor) -> Tensor:
        """Per-position flags (B, Hp * Wp) repeated at every time step
        (B, N); per-token flags unchanged."""
        return flags if self.per_token else flags.repeat(1, self.num_frames)
