"""Save and restore every random number generator with the checkpoint."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


def get_rng_state() -> dict:
    """Python, numpy, torch (CPU) and CUDA generator states."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Dataloader iterator that restores RNG state before a given batch.

    mmengine's ``IterBasedTrainLoop`` replays ``iter`` batches after a resume
    to reach the right place in the data; loading them consumes random
    numbers (augmentation), so the saved state is applied only after them.
    """

    def __init__(self, iterator, skip: int, state: dict):
        self.iterator, self.skip, self.state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
        elif self.state is not None:
            set_rng_state(self.state)
            self.state = None
        return next(self.iterator)

    def __getattr__(self, name):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put the generator states in each checkpoint; restore them on resume.

    With them, a resumed run draws the same masks and (with
    ``num_workers=0``) the same augmentations as an uninterrupted run.
    Data-loader workers (``num_workers > 0``) get seeds drawn when their
    iterator is created, so their augmentations after a resume differ.
    Checkpoints are taken at iteration or epoch ends, where these states
    are exactly those the next iteration starts from.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Applied later: mmengine may still re-seed while resuming.
        if runner._resume and 'rng_state' in checkpoint:
            self._pending = checkpoint['rng_state']

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator') and loop.iter > 0:
            # IterBasedTrainLoop replays loop.iter batches first
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, loop.iter, self._pending)
        else:
            set_rng_state(self._pending)
        self._pending = None
