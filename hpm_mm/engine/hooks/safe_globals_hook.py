"""Let the Runner resume and load mmengine checkpoints weights-only."""
from typing import List

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...converters.safe_globals import (SafeGlobal, add_missing,
                                        mmengine_safe_globals, remove_added)


@HOOKS.register_module()
class CheckpointSafeGlobalsHook(Hook):
    """Allow mmengine's checkpoint types in weights-only loads during a run.

    ``Runner.train()``, ``val()`` and ``test()`` call ``before_run`` before
    they initialise the weights (``init_cfg``), load ``load_from`` or
    resume; from there to ``after_run`` torch's safe unpickler also accepts
    the types of :func:`~hpm_mm.converters.mmengine_safe_globals`
    (torch >= 2.6 loads weights-only by default, and mmengine 0.10.7 does
    not say otherwise). ``after_run`` removes what this hook added, so the
    process's allow-list is as before once the run is over.

    Configs list it in ``custom_hooks`` (as
    ``dict(type='mmpretrain.CheckpointSafeGlobalsHook')`` where the default
    scope is mmdet or mmseg).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._added: List[SafeGlobal] = []

    def before_run(self, runner) -> None:
        self._added = add_missing(mmengine_safe_globals())

    def after_run(self, runner) -> None:
        remove_added(self._added)
        self._added = []
