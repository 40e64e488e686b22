"""HPM heads: a reconstruction loss per patch plus the loss predictor's."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.heads.mae_head import MAEPretrainHead
from mmpretrain.registry import MODELS
from torch import Tensor

from ..losses import pairwise_labels


def rank_accuracy(scores: Tensor, losses: Tensor) -> Tensor:
    """The fraction of pairs of patches with distinct losses that the
    scores order right (no gradient).

    Args:
        scores (Tensor): Predicted-loss scores (B, M) of the masked patches.
        losses (Tensor): Their reconstruction losses (B, M).

    Returns:
        Tensor: 0-d fp32 accuracy (0 when no pair has distinct losses).
    """
    with torch.no_grad():
        pos, neg = pairwise_labels(losses)
        z = scores.unsqueeze(1) - scores.unsqueeze(2)
        correct = (pos & (z > 0)) | (neg & (z < 0))
        rank_acc = correct.sum() / (pos.sum() + neg.sum()).clamp(min=1)
    return rank_acc.float()


class LossPredictionHead(BaseModule):
    """What every HPM head shares: ``loss_rec`` is the mean over the masked
    patches of the per-patch losses ``l`` (B, L) that a subclass computes
    (:meth:`per_patch_loss`); the loss predictor's scores of the masked
    patches are trained on their (detached) ``l``.

    Args:
        num_masked (int): Masked patches per image, M (HPM sets it from its
            backbone).
        loss_pred (dict): Config of the loss-prediction loss. Defaults to
            :class:`LossPredictionLoss` (relative).
        loss_rec_weight (float): Weight of the reconstruction loss.
            Defaults to 1.0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_masked: int,
                 loss_pred: dict = dict(type='LossPredictionLoss'),
                 loss_rec_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not float(loss_rec_weight) >= 0:
            raise ValueError(f'{type(self).__name__}: loss_rec_weight must '
                             f'be >= 0, got {loss_rec_weight}')
        self.loss_pred = MODELS.build(loss_pred)
        self.loss_rec_weight = float(loss_rec_weight)
        self.num_masked = int(num_masked)

    def loss(self, pred: Tensor, scores: Tensor, target: Tensor,
             mask: Tensor) -> Dict[str, Tensor]:
        """The losses and the predictor's ranking accuracy.

        Args:
            pred (Tensor): The reconstruction (B, L, C).
            scores (Tensor): Predicted-loss scores (B, L).
            target (Tensor): What :meth:`per_patch_loss` compares ``pred``
                with (images, or features (B, L, C)).
            mask (Tensor): Boolean (B, L), True = masked, M per image.

        Returns:
            dict[str, Tensor]: ``loss_rec`` (times ``loss_rec_weight``),
            ``loss_pred`` and ``rank_acc`` (the fraction of pairs of masked
            patches with distinct losses the scores order right; logged).
        """
        per_patch = self.per_patch_loss(pred, target)
        maskf = mask.to(per_patch.dtype)
        loss_rec = (per_patch * maskf).sum() / maskf.sum()

        # Masked patches of each image, sync-free since every row has M.
        ids = torch.argsort(
            mask.to(torch.uint8), dim=1, descending=True,
            stable=True)[:, :self.num_masked]
        s_m = torch.gather(scores, 1, ids)
        l_m = torch.gather(per_patch, 1, ids).detach()
        loss_pred = self.loss_pred(s_m, l_m)
        return dict(
            loss_rec=self.loss_rec_weight * loss_rec,
            loss_pred=loss_pred,
            rank_acc=rank_accuracy(s_m, l_m))


@MODELS.register_module()
class HPMHead(LossPredictionHead):
    """Pixel reconstruction loss on masked patches plus loss prediction.

    Targets are MAE's (:class:`MAEPretrainHead`'s patchify order and
    optional ``norm_pix``; its loss module is not used, since HPM needs the
    loss of every patch, not their mean).

    Args:
        num_masked, loss_pred, loss_rec_weight: See
            :class:`LossPredictionHead`.
        norm_pix (bool): Normalise each target patch. Defaults to False, as
            in the released recipe.
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        init_cfg (dict, optional): Initialisation config.
    """

    patchify = MAEPretrainHead.patchify
    unpatchify = MAEPretrainHead.unpatchify
    construct_target = MAEPretrainHead.construct_target

    def __init__(self,
                 num_masked: int,
                 loss_pred: dict = dict(type='LossPredictionLoss'),
                 loss_rec_weight: float = 1.0,
                 norm_pix: bool = False,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_masked, loss_pred, loss_rec_weight, init_cfg)
        self.norm_pix = norm_pix
        self.patch_size = patch_size
        self.in_channels = in_channels

    def per_patch_loss(self, pred: Tensor, imgs: Tensor) -> Tensor:
        """Mean squared error of each patch's pixels.

        Args:
            pred (Tensor): Reconstructed pixels (B, L, p*p*3).
            imgs (Tensor): Normalised input images (B, 3, H, W).

        Returns:
            Tensor: Loss of every patch (B, L), fp32.
        """
        target = self.construct_target(imgs)
        return (pred.float() - target.float()).pow(2).mean(dim=-1)


@MODELS.register_module()
class HPMFeatureHead(LossPredictionHead):
    """Normalised feature regression on masked patches plus loss prediction.

    The authors' ``--learn_feature_loss``: per patch,
    ``l = || normalize(pred) - normalize(target) ||^2`` (L2 normalisation
    over channels, squared distance summed over channels, i.e.
    ``2 - 2 cos``). Arguments: :class:`LossPredictionHead`'s.
    """

    def per_patch_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Squared distance of the L2-normalised features of each patch.

        Args:
            pred (Tensor): Predicted features (B, L, C).
            target (Tensor): Target features (B, L, C).

        Returns:
            Tensor: Loss of every patch (B, L), fp32.
        """
        diff = F.normalize(pred.float(), dim=-1) - F.normalize(
            target.float(), dim=-1)
        return diff.pow(2).sum(dim=-1)
