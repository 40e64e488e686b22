"""Masking driven by predicted reconstruction losses (easy-to-hard)."""
from typing import Optional, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor


def top_ranked(scores: Tensor, num: Union[int, Tensor],
               largest: bool = True) -> Tensor:
    """Flag each row's ``num`` highest (or lowest) scores.

    Ranks rather than ``topk``: ``num`` may be a 0-d tensor, so a compiled
    graph does not depend on its value.

    Args:
        scores (Tensor): Scores (B, L).
        num (int | Tensor): How many to flag per row, 0 <= num <= L.
        largest (bool): Flag the highest scores (else the lowest).

    Returns:
        Tensor: Boolean (B, L), exactly ``num`` True per row.
    """
    order = scores.argsort(dim=1, descending=largest)
    ranks = torch.arange(scores.shape[1], device=scores.device)
    rank = torch.empty_like(order).scatter_(1, order, ranks.expand_as(order))
    return rank < num


@MODELS.register_module()
class HardPatchMasker(BaseModule):
    """Mask the patches the teacher finds hardest, plus random ones.

    ``n_hard = int(M * alpha_t)`` of the M masked patches of each image are
    its highest-scored patches (``mine='hard'``, the paper's; ``'easy'``:
    the lowest-scored), the other ``M - n_hard`` are drawn uniformly without
    replacement from the rest; ``n_hard = 0`` is MAE's uniform mask (the
    same draw as MAE's ``random_masking``). Vectorised, no host sync.

    ``alpha_t`` is ``alpha_max * (t + 1) / T`` (``ramp='up'``, the released
    easy-to-hard schedule), ``alpha_max * (T - t) / T`` (``'down'``, the
    same values in reverse) or ``alpha_max`` (``'none'``), with t and T the
    epoch from 0 and the epochs (``schedule='epoch'``) or the iterations
    (``'iter'``); ``fixed_alpha`` overrides any schedule (0: random masks,
    the loss predictor still trained). :class:`HPM` calls
    :meth:`update_alpha` before each training step, outside the compiled
    ``loss``. ``alpha_t`` and ``n_hard`` are 0-d buffers and only
    :attr:`mines` (``n_hard > 0``) is a Python bool, so a compiled step is
    traced once per value of :attr:`mines`.

    Args:
        num_patches (int): Patches per image, L (HPM sets it from its
            backbone).
        num_masked (int): Masked patches per image, M (HPM sets it from its
            backbone's mask ratio).
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

    UNSET = ("HardPatchMasker: alpha_t is not set and the MessageHub has "
             "no training progress ('epoch'/'max_epochs' or 'iter'/"
             "'max_iters'); train under an mmengine Runner or call "
             'set_alpha()')

    def __init__(self,
                 num_patches: int,
                 num_masked: int,
                 alpha_max: float = 0.5,
                 schedule: str = 'epoch',
                 fixed_alpha: Optional[float] = None,
                 mine: str = 'hard',
                 ramp: str = 'up') -> None:
        super().__init__()
        for name, val, allowed in (('schedule', schedule, ('epoch', 'iter')),
                                   ('mine', mine, ('hard', 'easy')),
                                   ('ramp', ramp, ('up', 'down', 'none'))):
            if val not in allowed:
                raise ValueError(f'HardPatchMasker: {name} must be one of '
                                 f'{allowed}, got {val!r}')
        for name, val in (('alpha_max', alpha_max), ('fixed_alpha',
                                                     fixed_alpha)):
            if val is not None and not (isinstance(val, (int, float))
                                        and 0 <= val <= 1):
                raise ValueError(f'HardPatchMasker: {name} must be in '
                                 f'[0, 1], got {val!r}')
        if not 0 < num_masked < num_patches:
            raise ValueError(f'HardPatchMasker: num_masked must be in (0, '
                             f'{num_patches}), got {num_masked}')
        self.num_patches = int(num_patches)
        self.num_masked = int(num_masked)
        self.alpha_max = float(alpha_max)
        self.schedule = schedule
        self.fixed_alpha = fixed_alpha
        self.mine = mine
        self.ramp = ramp
        self.register_buffer('alpha_t', torch.zeros(()), persistent=False)
        self.register_buffer(
            'num_hard_t', torch.zeros((), dtype=torch.long), persistent=False)
        self._mines: Optional[bool] = None  # unknown until alpha_t is set
        if fixed_alpha is not None or ramp == 'none':  # constant
            self.set_alpha(self.alpha_max if fixed_alpha is None else
                           float(fixed_alpha))

    def alpha_at(self, t: int, total: int) -> float:
        """Scheduled mined fraction at step ``t`` (0-based) of ``total``."""
        if self.ramp == 'down':
            return self.alpha_max * max(0.0, (total - t) / total)
        return self.alpha_max * min(1.0, (t + 1) / total)

    def num_hard(self, alpha: float) -> int:
        """Mined patches per image at ``alpha``: ``int(M * alpha)``."""
        return int(self.num_masked * alpha)

    def set_alpha(self, alpha: float) -> None:
        """Use the mined fraction ``alpha`` from the next mask on."""
        n_hard = self.num_hard(alpha)
        self.alpha_t.fill_(alpha)
        self.num_hard_t.fill_(n_hard)
        self._mines = n_hard > 0

    def update_alpha(self, message_hub: Optional[MessageHub] = None) -> None:
        """Advance the schedule to the training progress of ``message_hub``
        (default: the current one, the Runner's); without progress a
        constant or previously set ``alpha_t`` is kept.

        Raises:
            RuntimeError: No progress and no ``alpha_t`` set yet.
        """
        if self.fixed_alpha is not None or self.ramp == 'none':
            return
        hub = message_hub or MessageHub.get_current_instance()
        t, end = ((hub.get_info('epoch'), hub.get_info('max_epochs'))
                  if self.schedule == 'epoch' else
                  (hub.get_info('iter'), hub.get_info('max_iters')))
        if t is not None and end:
            self.set_alpha(self.alpha_at(int(t), int(end)))
        elif self._mines is None:
            raise RuntimeError(self.UNSET)

    @property
    def mines(self) -> bool:
        """Whether the current mask mines patches (``n_hard > 0``): only then
        are the teacher's scores needed."""
        if self._mines is None:
            raise RuntimeError(self.UNSET)
        return self._mines

    def forward(self,
                scores: Optional[Tensor],
                batch_size: int,
                device: Optional[torch.device] = None) -> Tensor:
        """Draw the mask of one batch.

        Args:
            scores (Tensor, optional): Teacher's predicted losses (B, L);
                needed when :attr:`mines`, unused otherwise.
            batch_size (int): B.
            device (torch.device, optional): Device of the mask (the scores'
                when given).

        Returns:
            Tensor: Boolean mask (B, L), True = masked, exactly M per row.
        """
        mined = None
        if self.mines:
            if scores is None or scores.shape != (batch_size,
                                                  self.num_patches):
                raise ValueError(
                    'HardPatchMasker: mining needs scores of shape '
                    f'({batch_size}, {self.num_patches})')
            device = scores.device
            mined = top_ranked(scores, self.num_hard_t, self.mine == 'hard')
        # MAE's random masking: the M largest of uniform noise, the mined
        # patches (set above any draw) first
        noise = torch.rand(batch_size, self.num_patches, device=device)
        if mined is not None:
            noise = noise.masked_fill(mined, 2.0)
        ids_masked = noise.argsort(dim=1)[:, -self.num_masked:]
        return torch.zeros_like(noise, dtype=torch.bool).scatter_(
            1, ids_masked, True)
