"""VideoMAE's pixel target and loss; HPM's loss prediction on top."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from ..models.heads.hpm_head import rank_accuracy

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class VideoMAEHead(BaseModule):
    """VideoMAE's target and mean squared error on the masked tokens.

    The target (:meth:`construct_target`) takes the clip back to pixels in
    [0, 1] (``x * std + mean``), groups each token's
    ``tubelet_size * patch_size**2`` pixels per channel, with ``norm_pix``
    normalises them per token and channel (``(x - mean) / (unbiased std +
    1e-6)``), flattens them (dt, i, j, c), channel fastest, and keeps the
    masked tokens in increasing n. The loss is the MSE over all elements.

    Args:
        norm_pix (bool): Normalise the target per token and channel.
            Defaults to True.
        patch_size (int): Spatial patch size. Defaults to 16.
        tubelet_size (int): Frames per token. Defaults to 2.
        mean (Sequence[float]): The data preprocessor's channel means, 0-255
            scale. Defaults to ImageNet's.
        std (Sequence[float]): Its channel stds, 0-255 scale. Defaults to
            ImageNet's.
        init_cfg (dict, optional): Initialisation config (no weights).
    """

    def __init__(self,
                 norm_pix: bool = True,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        for arg, val in (('patch_size', patch_size), ('tubelet_size',
                                                      tubelet_size)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(
                    f'{name}: {arg} must be a positive int, got {val!r}')
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f'{name}: mean and std must be 3 values each, '
                             f'std > 0, got {mean!r}, {std!r}')
        self.norm_pix = norm_pix
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        shape = (1, 3, 1, 1, 1)
        self.register_buffer(
            'mean', torch.tensor(mean).view(shape) / 255, persistent=False)
        self.register_buffer(
            'std', torch.tensor(std).view(shape) / 255, persistent=False)

    def tokens(self, pixels: Tensor) -> Tensor:
        """Clips (B, C, T, H, W) -> each token's pixels (B, N,
        tubelet_size * patch_size**2, C) in (dt, i, j) order, tokens in
        increasing n."""
        B, C, T, H, W = pixels.shape
        dt, p = self.tubelet_size, self.patch_size
        x = pixels.view(B, C, T // dt, dt, H // p, p, W // p, p)
        # (B, t, h, w, dt, i, j, c): token-major, channel fastest
        return x.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, -1, dt * p * p, C)

    def construct_target(self, video: Tensor, mask: Tensor,
                         num_masked: int) -> Tensor:
        """The pixel target of the masked tokens.

        Args:
            video (Tensor): Normalised clips (B, 3, T, H, W).
            mask (Tensor): Boolean (B, N), True = masked, M per clip.
            num_masked (int): M (the rows of the reconstruction), so that
                the rows are gathered without a host sync.

        Returns:
            Tensor: (B, M, tubelet_size * patch_size**2 * 3), fp32 or
            ``video``'s wider dtype, rows
            = masked tokens in increasing n.
        """
        x = self.tokens(video * self.std + self.mean)  # in [0, 1], >= fp32
        if self.norm_pix:
            x = (x - x.mean(dim=-2, keepdim=True)) / (
                x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        x = x.flatten(2)
        # the masked rows first, in increasing n (stable sort)
        ids = torch.argsort(
            mask.to(torch.uint8), dim=1, descending=True,
            stable=True)[:, :num_masked]
        return torch.gather(x, 1,
                            ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    def loss(self, pred: Tensor, video: Tensor,
             mask: Tensor) -> Dict[str, Tensor]:
        """Mean squared error of the masked tokens' pixels.

        Args:
            pred (Tensor): Reconstruction (B, M, tubelet_size *
                patch_size**2 * 3).
            video (Tensor): Normalised clips (B, 3, T, H, W).
            mask (Tensor): Boolean (B, N), True = masked.

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        target = self.construct_target(video, mask, pred.shape[1])
        return dict(loss=F.mse_loss(pred.to(target.dtype), target))


@MODELS.register_module()
class HPMVideoHead(VideoMAEHead):
    """:class:`VideoMAEHead`'s reconstruction loss plus HPM's loss
    prediction: each masked token's mean squared error ``l`` (B, M)
    (``loss_rec`` is their mean, VideoMAE's loss), and the predictor's
    scores (B, M) of the same tokens trained on the detached ``l`` by
    ``loss_pred``, as :class:`LossPredictionHead` does for images.

    Args:
        num_masked (int, optional): Masked tokens per clip, M (HPM sets it
            from its backbone); the rows ``pred`` must have.
        loss_pred (dict): Config of the loss-prediction loss. Defaults to
            :class:`LossPredictionLoss` (relative).
        loss_rec_weight (float): Weight of the reconstruction loss.
            Defaults to 1.0.
        **kwargs: :class:`VideoMAEHead`'s arguments.
    """

    def __init__(self,
                 num_masked: Optional[int] = None,
                 loss_pred: dict = dict(type='LossPredictionLoss'),
                 loss_rec_weight: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not float(loss_rec_weight) >= 0:
            raise ValueError('HPMVideoHead: loss_rec_weight must be >= 0, '
                             f'got {loss_rec_weight}')
        self.num_masked = num_masked
        self.loss_pred = MODELS.build(loss_pred)
        self.loss_rec_weight = float(loss_rec_weight)

    def loss(self, pred: Tensor, scores: Tensor, video: Tensor,
             mask: Tensor) -> Dict[str, Tensor]:
        """The losses and the predictor's ranking accuracy.

        Args:
            pred (Tensor): Reconstruction (B, M, tubelet_size *
                patch_size**2 * 3) of the masked tokens in increasing n.
            scores (Tensor): Predicted-loss scores (B, M) of the same tokens.
            video (Tensor): Normalised clips (B, 3, T, H, W).
            mask (Tensor): Boolean (B, N), True = masked.

        Returns:
            dict[str, Tensor]: ``loss_rec`` (times ``loss_rec_weight``),
            ``loss_pred`` and ``rank_acc`` (logged).
        """
        if self.num_masked is not None and pred.shape[1] != self.num_masked:
            raise ValueError(f'HPMVideoHead: pred has {pred.shape[1]} rows, '
                             f'num_masked is {self.num_masked}')
        target = self.construct_target(video, mask, pred.shape[1])
        per_token = (pred.to(target.dtype) - target).pow(2).mean(dim=-1)
        losses = per_token.detach()
        return dict(
            loss_rec=self.loss_rec_weight * per_token.mean(),
            loss_pred=self.loss_pred(scores, losses),
            rank_acc=rank_accuracy(scores, losses))
