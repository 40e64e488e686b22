"""What every HPM head shares: the loss predictor learns per-patch losses."""
from typing import Dict

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ..losses import pairwise_labels


class LossPredictionMixin:
    """Turn per-patch reconstruction losses into HPM's losses.

    A head computes the per-patch reconstruction loss ``l`` (B, L) its own
    way (pixels, normalised features); this part averages ``l`` over the
    masked patches into ``loss_rec``, trains the loss predictor's scores on
    the masked patches' (detached) ``l`` and measures the predictor's
    pairwise ranking accuracy.
    """

    def _build_loss_pred(self, loss_pred: dict, loss_rec_weight: float,
                         num_masked: int) -> None:
        """Build ``self.loss_pred``; check ``loss_rec_weight``."""
        if not float(loss_rec_weight) >= 0:
            raise ValueError(f'{type(self).__name__}: loss_rec_weight must '
                             f'be >= 0, got {loss_rec_weight}')
        self.loss_pred = MODELS.build(loss_pred)
        self.loss_rec_weight = float(loss_rec_weight)
        self.num_masked = int(num_masked)

    def losses_from_per_patch(self, per_patch: Tensor, scores: Tensor,
                              mask: Tensor) -> Dict[str, Tensor]:
        """Reconstruction, loss-prediction loss and ranking accuracy.

        Args:
            per_patch (Tensor): Reconstruction loss of every patch (B, L).
            scores (Tensor): Predicted-loss scores (B, L).
            mask (Tensor): Boolean mask (B, L), True = masked, exactly
                ``num_masked`` per image.

        Returns:
            dict[str, Tensor]: ``loss_rec`` (mean of ``per_patch`` over the
            masked patches, times ``loss_rec_weight``), ``loss_pred`` and
            ``rank_acc`` (fraction of ordered pairs of masked patches with
            distinct losses that the scores order correctly; logged, not
            optimised).
        """
        maskf = mask.to(per_patch.dtype)
        loss_rec = (per_patch * maskf).sum() / maskf.sum()

        # Masked patches of each image, sync-free since every row has M.
        ids = torch.argsort(
            mask.to(torch.uint8), dim=1, descending=True,
            stable=True)[:, :self.num_masked]
        s_m = torch.gather(scores, 1, ids)
        l_m = torch.gather(per_patch, 1, ids).detach()
        loss_pred = self.loss_pred(s_m, l_m)

        with torch.no_grad():
            pos, neg = pairwise_labels(l_m)
            z = s_m.unsqueeze(1) - s_m.unsqueeze(2)
            correct = (pos & (z > 0)) | (neg & (z < 0))
            rank_acc = correct.sum() / (pos.sum() + neg.sum()).clamp(min=1)
        return dict(
            loss_rec=self.loss_rec_weight * loss_rec,
            loss_pred=loss_pred,
            rank_acc=rank_acc.float())
