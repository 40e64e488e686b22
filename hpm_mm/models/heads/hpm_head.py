"""HPM head: pixel reconstruction loss plus loss-prediction loss."""
from typing import Dict, Optional

from mmengine.model import BaseModule
from mmpretrain.models.heads.mae_head import MAEPretrainHead
from mmpretrain.registry import MODELS
from torch import Tensor

from .loss_prediction_mixin import LossPredictionMixin


@MODELS.register_module()
class HPMHead(LossPredictionMixin, BaseModule):
    """Reconstruction loss on masked patches and the loss-prediction loss.

    Targets are MAE's (:class:`MAEPretrainHead`'s patchify order and
    optional ``norm_pix``; its loss module is not used, since HPM needs the
    loss of every patch, not their mean). The per-patch squared error ``l``
    of the masked patches is the training target of the loss predictor.

    Args:
        num_masked (int): Masked patches per image, M (HPM sets it from its
            backbone).
        loss_pred (dict): Config of the loss-prediction loss. Defaults to
            :class:`LossPredictionLoss` (relative).
        loss_rec_weight (float): Weight of the reconstruction loss.
            Defaults to 1.0.
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
        super().__init__(init_cfg=init_cfg)
        self.norm_pix = norm_pix
        self.patch_size = patch_size
        self.in_channels = in_channels
        self._build_loss_pred(loss_pred, loss_rec_weight, num_masked)

    def loss(self, pred: Tensor, scores: Tensor, imgs: Tensor,
             mask: Tensor) -> Dict[str, Tensor]:
        """Compute the losses and the predictor's ranking accuracy.

        Args:
            pred (Tensor): Reconstructed pixels (B, L, p*p*3).
            scores (Tensor): Predicted-loss scores (B, L).
            imgs (Tensor): Normalised input images (B, 3, H, W).
            mask (Tensor): Boolean mask (B, L), True = masked, exactly M per
                image.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_pred`` and ``rank_acc``,
            see :meth:`losses_from_per_patch`.
        """
        target = self.construct_target(imgs)
        per_patch = (pred.float() - target.float()).pow(2).mean(dim=-1)
        return self.losses_from_per_patch(per_patch, scores, mask)
