"""Stop training at the first non-finite loss."""
import math

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise as soon as a loss term is NaN or infinite.

    Reads the values mmengine's ``RuntimeInfoHook`` has already copied to
    the host for logging (``train/<key>`` in the message hub; no device
    read-back of its own), and runs before the ``CheckpointHook``, so
    corrupted weights are never saved.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        hub, bad = runner.message_hub, []
        for key in outputs or ():
            value = hub.get_scalar(f'train/{key}').current()
            if 'loss' in key and not math.isfinite(value):
                bad.append(f'{key}={value}')
        if bad:
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1}: '
                f"{', '.join(bad)}; training stopped, the last checkpoint "
                'was saved before it')
