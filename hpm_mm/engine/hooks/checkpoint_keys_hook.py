"""Refuse checkpoints that do not fit the model, saying how they differ."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...converters import CheckpointError, check_fit


@HOOKS.register_module()
class CheckpointKeysHook(Hook):
    """Check ``load_from``/``resume`` checkpoints against the model.

    mmengine loads ``load_from`` with ``strict=False``, skipping what does
    not fit. Unexpected keys are logged; a missing key or one of another
    shape raises :class:`~hpm_mm.converters.CheckpointError` (one line).

    Args:
        allow_missing (tuple[str]): fnmatch patterns of model keys that may
            be absent from the checkpoint (``'teacher.*'``). Defaults to ().
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_missing: tuple = ()) -> None:
        self.allow_missing = tuple(allow_missing)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # what mmengine loads: 'state_dict' (else all), 'module.' stripped
        state = {
            k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in checkpoint.get('state_dict', checkpoint).items()
        }
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        cfg = getattr(runner, 'cfg', None)
        path = cfg and cfg.get('load_from') or 'checkpoint'
        try:
            fit = check_fit(model.state_dict(), state,
                            f'{path} does not fit {type(model).__name__}',
                            self.allow_missing, allow_unexpected=True)
        except CheckpointError as err:
            raise CheckpointError(
                f'{err} (wrong kind of checkpoint? tools/convert_checkpoint.py'
                ' converts between formats)') from None
        if fit.unexpected:
            print_log(f'checkpoint: {len(fit.unexpected)} unexpected keys: '
                      f'{fit.unexpected[:10]}', logger='current')
