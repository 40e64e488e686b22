"""Masking driven by predicted reconstruction losses (easy-to-hard)."""
from typing import Optional

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class HardPatchMasker(BaseModule):
    """Mask the patches the teacher finds hardest, plus random ones.

    With ``alpha_t`` the mined fraction, ``n_hard = int(M * alpha_t)`` of the
    M masked patches of each image are its ``n_hard`` highest-scored patches
    (``mine='hard'``, the paper's method; ``mine='easy'`` takes the
    lowest-scored ones, an ablation) and the other ``M - n_hard`` are drawn
    uniformly without replacement from the rest; ``n_hard <= 0`` gives MAE's
    uniform mask (same random draw as MAE's ``random_masking``). Vectorised
    over the batch, no host sync.

    ``alpha_t`` follows the released easy-to-hard schedule (``ramp='up'``)
    ``alpha_max * (t + 1) / T`` with t the epoch counted from 0 and T the
    number of epochs (``schedule='epoch'``), or the iteration and the number
    of iterations (``schedule='iter'``), both read from mmengine's
    :class:`MessageHub`. Ablations: ``ramp='down'`` is hard-to-easy,
    ``alpha_max * (T - t) / T`` (the same values in reverse order);
    ``ramp='none'`` keeps ``alpha_max`` from the first step on (hardest from
    the start). ``fixed_alpha`` overrides any schedule (``fixed_alpha=0``:
    random masks, the loss predictor still trained).

    Args:
        alpha_max (float): Largest mined fraction. Defaults to 0.5.
        schedule (str): 'epoch' or 'iter': the unit of t and T. Defaults to
            'epoch'.
        fixed_alpha (float, optional): Constant mined fraction in [0, 1].
            Defaults to None (use the schedule).
        mine (str): 'hard' (highest predicted losses) or 'easy' (lowest).
            Defaults to 'hard'.
        ramp (str): 'up' (easy-to-hard), 'down' (hard-to-easy) or 'none'
            (``alpha_max`` throughout). Defaults to 'up'.
    """

    MINES = ('hard', 'easy')
    RAMPS = ('up', 'down', 'none')

    def __init__(self,
                 alpha_max: float = 0.5,
                 schedule: str = 'epoch',
                 fixed_alpha: Optional[float] = None,
                 mine: str = 'hard',
                 ramp: str = 'up') -> None:
        super().__init__()
        if schedule not in ('epoch', 'iter'):
            raise ValueError("HardPatchMasker: schedule must be 'epoch' or "
                             f"'iter', got {schedule!r}")
        if mine not in self.MINES:
            raise ValueError("HardPatchMasker: mine must be 'hard' or "
                             f"'easy', got {mine!r}")
        if ramp not in self.RAMPS:
            raise ValueError("HardPatchMasker: ramp must be 'up', 'down' or "
                             f"'none', got {ramp!r}")
        for name, val in (('alpha_max', alpha_max), ('fixed_alpha',
                                                     fixed_alpha)):
            if val is not None and not 0.0 <= float(val) <= 1.0:
                raise ValueError(
                    f'HardPatchMasker: {name} must be in [0, 1], got {val}')
        self.alpha_max = float(alpha_max)
        self.schedule = schedule
        self.fixed_alpha = fixed_alpha
        self.mine = mine
        self.ramp = ramp

    @property
    def alpha(self) -> float:
        """Current hard fraction alpha_t (a Python float)."""
        if self.fixed_alpha is not None:
            return float(self.fixed_alpha)
        if self.ramp == 'none':
            return self.alpha_max
        hub = MessageHub.get_current_instance()
        step, total = (('epoch', 'max_epochs') if self.schedule == 'epoch'
                       else ('iter', 'max_iters'))
        cur, end = hub.get_info(step), hub.get_info(total)
        if cur is None or not end:
            raise RuntimeError(
                f"HardPatchMasker: no '{step}'/'{total}' in MessageHub; run "
                'it under an mmengine Runner or set fixed_alpha')
        cur, end = int(cur), int(end)
        if self.ramp == 'down':
            return self.alpha_max * max(0.0, (end - cur) / end)
        return self.alpha_max * min(1.0, (cur + 1) / end)

    def num_hard(self, num_masked: int, alpha: Optional[float] = None) -> int:
        """Hard-mined patches per image, ``int(M * alpha)``.

        Args:
            num_masked (int): Masked patches per image, M.
            alpha (float, optional): Hard fraction; defaults to the current
                :attr:`alpha`.
        """
        return int(num_masked * (self.alpha if alpha is None else alpha))

    def forward(self,
                scores: Optional[Tensor],
                num_masked: int,
                num_hard: int,
                batch_size: int,
                num_patches: int,
                device: torch.device = None) -> Tensor:
        """Draw the mask.

        Args:
            scores (Tensor, optional): Teacher's predicted losses (B, L);
                only needed when ``num_hard > 0``.
            num_masked (int): Masked patches per image, M.
            num_hard (int): Of those, the mined ones (top-scored, or
                bottom-scored with ``mine='easy'``), n_hard <= M.
            batch_size (int): B.
            num_patches (int): L.
            device (torch.device, optional): Device of the mask.

        Returns:
            Tensor: Boolean mask (B, L), True = masked, exactly M per row.
        """
        if not 0 < num_masked < num_patches:
            raise ValueError(f'HardPatchMasker: num_masked must be in (0, '
                             f'{num_patches}), got {num_masked}')
        if num_hard > num_masked:
            raise ValueError(f'HardPatchMasker: num_hard {num_hard} > '
                             f'num_masked {num_masked}')
        if scores is not None:
            device = scores.device
        # The largest noise values are masked, as in MAE's random_masking.
        noise = torch.rand(batch_size, num_patches, device=device)
        if num_hard > 0:
            if scores is None or scores.shape != (batch_size, num_patches):
                raise ValueError('HardPatchMasker: num_hard > 0 needs scores '
                                 f'of shape ({batch_size}, {num_patches})')
            hard = torch.topk(
                scores, num_hard, dim=1, largest=self.mine == 'hard',
                sorted=False).indices
            noise.scatter_(1, hard, 2.0)  # above any uniform draw
        ids_masked = torch.argsort(noise, dim=1)[:, num_patches - num_masked:]
        mask = torch.zeros(
            batch_size, num_patches, dtype=torch.bool, device=device)
        return mask.scatter_(1, ids_masked, True)
