"""Let the Runner resume and load mmengine checkpoints weights-only."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...converters.safe_globals import (add_missing, mmengine_safe_globals,
                                        remove_added)


@HOOKS.register_module()
class CheckpointSafeGlobalsHook(Hook):
    """Allow mmengine's checkpoint types in weights-only loads during a run.

    torch >= 2.6 loads weights-only by default and mmengine 0.10.7 does not
    say otherwise. From ``before_run`` (before the Runner initialises the
    weights, loads ``load_from`` or resumes) to ``after_run``, torch's safe
    unpickler also accepts :func:`~hpm_mm.converters.mmengine_safe_globals`;
    ``after_run`` removes only what this hook added.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        self._added = add_missing(mmengine_safe_globals())

    def after_run(self, runner) -> None:
        remove_added(getattr(self, '_added', []))
        self._added = []
