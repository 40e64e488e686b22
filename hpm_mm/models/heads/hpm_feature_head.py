"""HPM head for feature targets (CLIP, DINO, the EMA teacher)."""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from .loss_prediction_mixin import LossPredictionMixin


@MODELS.register_module()
class HPMFeatureHead(LossPredictionMixin, BaseModule):
    """Normalised feature regression on masked patches plus loss prediction.

    The authors' ``--learn_feature_loss``: per patch,
    ``l = || normalize(pred) - normalize(target) ||^2`` (L2 normalisation
    over channels, squared distance summed over channels, i.e.
    ``2 - 2 cos``); ``loss_rec`` is its mean over the masked patches and the
    loss predictor learns ``l`` exactly as it learns pixel losses.

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
        self._build_loss_pred(loss_pred, loss_rec_weight, num_masked)

    def loss(self, pred: Tensor, scores: Tensor, target: Tensor,
             mask: Tensor) -> Dict[str, Tensor]:
        """Compute the losses and the predictor's ranking accuracy.

        Args:
            pred (Tensor): Predicted features (B, L, C).
            scores (Tensor): Predicted-loss scores (B, L).
            target (Tensor): Target features of every patch (B, L, C).
            mask (Tensor): Boolean mask (B, L), True = masked, exactly M per
                image.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_pred`` and ``rank_acc``,
            see :meth:`losses_from_per_patch`.
        """
        if pred.shape != target.shape:
            raise ValueError(
                f'HPMFeatureHead: prediction {tuple(pred.shape)} and target '
                f'{tuple(target.shape)} differ; set the neck\'s '
                'predict_feature_dim to the target\'s channels')
        diff = F.normalize(pred.float(), dim=-1) - F.normalize(
            target.float(), dim=-1)
        per_patch = diff.pow(2).sum(dim=-1)
        return self.losses_from_per_patch(per_patch, scores, mask)
