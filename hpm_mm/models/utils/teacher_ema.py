"""The HPM teacher: an EMA of the whole student with HPM's momentum."""
import copy
from typing import List, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class HPMTeacherEMA(nn.Module):
    """Exponential moving average of the student, updated after each step.

    ``theta_T = d * theta_T + (1 - d) * theta_S`` with d rising linearly
    from ``momentum_start`` at epoch 0 to ``momentum_end`` at
    ``warmup_epochs``. The teacher starts as an exact copy of the
    initialised student (:meth:`copy_from`) and every update averages, as
    in the released code (mmengine's ``ExponentialMovingAverage`` copies on
    its first update and keeps one momentum), in one fused ``lerp`` with no
    host sync. The copy (``module``) stays in eval mode and its weights are
    buffers, invisible to the optimizer. State-dict keys:
    ``teacher.module.<student name>`` and ``teacher.steps`` (updates).

    Args:
        model (nn.Module): The student to average (deep-copied).
        momentum_start (float): d at epoch 0. Defaults to 0.999.
        momentum_end (float): d from ``warmup_epochs`` on. Defaults to 0.9999.
        warmup_epochs (int): Epochs over which d rises. Defaults to 100.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum_start: float = 0.999,
                 momentum_end: float = 0.9999,
                 warmup_epochs: int = 100) -> None:
        super().__init__()
        for name, val in (('momentum_start', momentum_start),
                          ('momentum_end', momentum_end)):
            if not 0.0 < float(val) < 1.0:
                raise ValueError(
                    f'HPMTeacherEMA: {name} must be in (0, 1), got {val}')
        if warmup_epochs < 0:
            raise ValueError('HPMTeacherEMA: warmup_epochs must be >= 0, '
                             f'got {warmup_epochs}')
        self.module = copy.deepcopy(model)
        self.avg_names = parameters_to_buffers(self.module)
        self.register_buffer('steps', torch.tensor(0, dtype=torch.long))
        self.momentum_start = float(momentum_start)
        self.momentum_end = float(momentum_end)
        self.warmup_epochs = int(warmup_epochs)
        self.module.eval()

    def decay(self, epoch: int) -> float:
        """The EMA decay d of the given epoch (0-based)."""
        if epoch >= self.warmup_epochs:
            return self.momentum_end
        return self.momentum_start + (epoch / self.warmup_epochs) * (
            self.momentum_end - self.momentum_start)

    def train(self, mode: bool = True) -> 'HPMTeacherEMA':
        """Keep the averaged module in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.module.eval()
        return self

    def _pairs(self, student: nn.Module) -> Tuple[List[Tensor], List[Tensor]]:
        """Teacher tensors and the matching student parameters."""
        src = dict(student.named_parameters())
        missing = [n for n in self.avg_names if n not in src]
        if missing:
            raise RuntimeError('HPMTeacherEMA: student lacks parameters '
                               f'{missing[:5]}')
        own = dict(self.module.named_buffers())
        return ([own[n] for n in self.avg_names],
                [src[n].detach() for n in self.avg_names])

    @torch.no_grad()
    def copy_from(self, student: nn.Module) -> None:
        """Make the teacher an exact copy of ``student``'s parameters."""
        avg, src = self._pairs(student)
        torch._foreach_copy_(avg, src)

    @torch.no_grad()
    def update(self, student: nn.Module, epoch: int) -> None:
        """One EMA step towards ``student`` with the decay of ``epoch``."""
        avg, src = self._pairs(student)
        torch._foreach_lerp_(avg, src, 1.0 - self.decay(epoch))
        self.steps += 1


def parameters_to_buffers(module: nn.Module,
                          persistent: bool = True) -> List[str]:
    """Turn every parameter of ``module`` into a buffer of the same name.

    Args:
        module (nn.Module): Changed in place.
        persistent (bool): Whether the buffers are in the state dict.

    Returns:
        list[str]: The full names of the converted parameters.
    """
    names = []
    for prefix, mod in module.named_modules():
        for name, param in list(mod.named_parameters(recurse=False)):
            delattr(mod, name)
            mod.register_buffer(name, param.detach(), persistent=persistent)
            names.append(f'{prefix}.{name}' if prefix else name)
    return names
