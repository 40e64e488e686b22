"""The one module where hpm_mm relies on what mmengine does not publish.

Each touch point is named below with why hpm_mm needs it; all were checked
against mmengine 0.10.7 (:data:`CHECKED_VERSION`), and
``tests/test_mmengine_compat.py`` fails when one of them changes.

1. ``IterBasedTrainLoop.dataloader_iterator`` and the replay in
   ``IterBasedTrainLoop.run``: a resumed loop calls ``next()`` on that
   iterator ``loop.iter`` times, after ``before_train_epoch``, to skip the
   batches already trained, and fetches the first new batch before any
   other hook runs. Loading the replayed batches draws random numbers
   (augmentations), so ``RNGStateHook`` restores the generators from
   within that iterator, after the replay (:func:`call_after_replay`).
"""
from typing import Callable

from mmengine.runner import IterBasedTrainLoop

CHECKED_VERSION = '0.10.7'


def call_after_replay(loop: IterBasedTrainLoop, fn: Callable[[], None]):
    """Call ``fn()`` once a resumed ``loop`` has replayed the batches it
    skips, right before it loads the first new one (touch point 1). Call
    it in ``before_train`` or ``before_train_epoch``."""

    def replay_then_fn(iterator, replay: int):
        for _ in range(replay):
            yield next(iterator)
        fn()
        yield from iterator

    loop.dataloader_iterator = replay_then_fn(loop.dataloader_iterator,
                                              loop.iter)
