"""Refuse checkpoints that do not fit the model, saying how they differ."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...converters import (CheckpointError, check_fit, compare_state_dicts,
                           strip_prefix)


@HOOKS.register_module()
class CheckpointKeysHook(Hook):
    """Check ``load_from``/``resume`` checkpoints against the model.

    mmengine loads ``load_from`` with ``strict=False`` and skips tensors of
    another shape with a warning, so a checkpoint of the wrong kind (a
    downstream model, the authors' unconverted file, another architecture)
    would load nothing, or half, without a word. Unexpected keys are
    printed; a checkpoint that misses any of the model's keys, or holds one
    with another shape, raises :class:`CheckpointError` with a one-line
    summary (counts, first keys, likely cause such as a different depth).

    Args:
        allow_missing (tuple[str]): fnmatch patterns of model keys that may
            be absent from the checkpoint (``'teacher.*'``). Defaults to ().
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_missing: tuple = ()) -> None:
        self.allow_missing = tuple(allow_missing)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # what mmengine loaded: 'state_dict' (else all), 'module.' stripped
        state = strip_prefix(checkpoint.get('state_dict', checkpoint))
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        own = model.state_dict()
        unexpected = compare_state_dicts(own, state).unexpected
        if unexpected:
            print_log(f'checkpoint: {len(unexpected)} unexpected keys: '
                      f'{unexpected[:10]}', logger='current')
        path = getattr(runner, '_load_from', None) or 'checkpoint'
        try:
            check_fit(own, state,
                      f'{path} does not fit {type(model).__name__}',
                      self.allow_missing, allow_unexpected=True)
        except CheckpointError as err:
            raise CheckpointError(
                f'{err} (wrong kind of checkpoint? tools/convert_checkpoint.py'
                ' converts between formats)') from None
