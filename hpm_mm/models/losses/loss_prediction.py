"""HPM's loss-prediction objective (relative ranking or absolute)."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

_EPS = 1e-6


def pairwise_labels(target: Tensor):
    """Pairwise order of per-patch losses.

    Args:
        target (Tensor): Losses (B, N).

    Returns:
        tuple[Tensor, Tensor]: ``pos`` and ``neg`` (B, N, N) booleans with
        ``pos[b, i, j] = target[b, j] > target[b, i]`` and
        ``neg[b, i, j] = target[b, j] < target[b, i]``; ties are neither.
    """
    diff = target.unsqueeze(1) - target.unsqueeze(2)
    return diff > 0, diff < 0


@MODELS.register_module()
class LossPredictionLoss(BaseModule):
    """Teach the predictor which patches are hard to reconstruct.

    ``relative`` (the paper's default): for every ordered pair (i, j) of an
    image's patches, ``z = s_j - s_i`` is trained with binary cross-entropy
    to say whether ``l_j > l_i``; ties are ignored; the sum is divided by the
    number of positive plus negative pairs in the batch, with the released
    code's ``log(sigmoid(z) + 1e-6)``. ``absolute``: the per-image z-scored
    losses (unbiased variance + 1e-6) are regressed with MSE.

    Args:
        mode (str): 'relative' or 'absolute'. Defaults to 'relative'.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, mode: str = 'relative', loss_weight: float = 1.0):
        super().__init__()
        if mode not in ('relative', 'absolute'):
            raise ValueError("LossPredictionLoss: mode must be 'relative' or "
                             f"'absolute', got {mode!r}")
        if not float(loss_weight) >= 0:
            raise ValueError('LossPredictionLoss: loss_weight must be >= 0, '
                             f'got {loss_weight}')
        self.mode = mode
        self.loss_weight = float(loss_weight)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predicted scores (B, N) of the masked patches.
            target (Tensor): Their reconstruction losses (B, N); detached
                here.

        Returns:
            Tensor: Scalar loss, times ``loss_weight``.
        """
        pred = pred.float()
        target = target.detach().float()
        if self.mode == 'relative':
            pos, neg = pairwise_labels(target)
            z = pred.unsqueeze(1) - pred.unsqueeze(2)
            prob = torch.sigmoid(z)
            loss = -(pos * torch.log(prob + _EPS) +
                     neg * torch.log(1 - prob + _EPS))
            # clamp keeps a batch without any valid pair finite (loss 0).
            loss = loss.sum() / (pos.sum() + neg.sum()).clamp(min=1)
        else:
            mean = target.mean(dim=1, keepdim=True)
            var = target.var(dim=1, keepdim=True)
            loss = F.mse_loss(pred, (target - mean) / (var + _EPS)**.5)
        return self.loss_weight * loss
