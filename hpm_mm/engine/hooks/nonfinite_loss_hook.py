"""Stop training at the first non-finite loss."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise as soon as a loss term is NaN or infinite.

    Runs before :class:`CheckpointHook` in ``after_train_iter``, so the
    corrupted weights are never saved and the last good checkpoint stays
    the latest one. (The released code exits on a non-finite loss too.)
    The check reads the logged loss values, which mmengine already copies to
    the host every iteration for logging.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        bad = []
        for key, val in outputs.items():
            if 'loss' not in key:
                continue
            val = float(val.detach()) if torch.is_tensor(val) else float(val)
            if not math.isfinite(val):
                bad.append(f'{key}={val}')
        if bad:
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1}: '
                f"{', '.join(bad)}; training stopped, the last checkpoint "
                'was saved before it')
