"""Refuse checkpoints that do not fit the model, naming the keys."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class CheckpointKeysHook(Hook):
    """Check ``load_from``/``resume`` checkpoints against the model.

    mmengine loads ``load_from`` with ``strict=False``, so a checkpoint of
    the wrong kind (a downstream model, the authors' unconverted file)
    would load nothing without a word. Missing and unexpected keys are
    always printed; a checkpoint that misses any of the model's keys
    raises ``KeyError`` naming them (``allow_missing`` lists key prefixes
    that may be absent).

    Args:
        allow_missing (tuple[str]): Prefixes of model keys that may be
            absent from the checkpoint. Defaults to ().
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_missing: tuple = ()) -> None:
        self.allow_missing = tuple(allow_missing)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        own = set(model.state_dict())
        got = {k[7:] if k.startswith('module.') else k for k in state}
        missing = sorted(k for k in own - got
                         if not k.startswith(self.allow_missing))
        unexpected = sorted(got - own)
        if unexpected:
            print_log(f'checkpoint: {len(unexpected)} unexpected keys: '
                      f'{unexpected[:10]}', logger='current')
        if missing:
            raise KeyError(
                f'checkpoint does not fit {type(model).__name__}: '
                f'{len(missing)} missing keys, e.g. {missing[:5]}'
                + (f'; unexpected e.g. {unexpected[:5]}' if unexpected
                   else '') + ' (wrong kind of checkpoint? convert it with '
                'tools/convert_checkpoint.py)')
