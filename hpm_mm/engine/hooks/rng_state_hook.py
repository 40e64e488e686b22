"""Save and restore every random number generator with the checkpoint."""
import itertools
import logging
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmpretrain.registry import HOOKS
from torch.utils.data import BatchSampler

from ..mmengine_compat import call_after_replay


def get_rng_state() -> dict:
    """Python, numpy, torch (CPU) and, once initialised, CUDA states."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
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


class _SkipFirst:
    """Sampler: when iteration starts (after the data loader's iterator has
    drawn its seed, as in the uninterrupted epoch), ``state`` is restored
    and ``sampler`` goes on after its first ``skip`` indices."""

    def __init__(self, sampler, skip: int, state: dict):
        self.sampler, self.skip, self.state = sampler, skip, state

    def __iter__(self):
        set_rng_state(self.state)
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.sampler) - self.skip, 0)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep every rank's generator states in checkpoints and restore them
    on resume: the run draws the masks and (``num_workers=0``) the
    augmentations of an uninterrupted one.

    The ranks' states are gathered at each epoch end, before an
    iteration-based ``CheckpointHook`` saves, and by :meth:`gather`
    (``PreemptionHook``'s save). A half-finished epoch goes on after the
    batches it had (torch's ``BatchSampler``; else it restarts, with a
    warning); an iteration-based run after mmengine's replay.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded = self._gathered = self._skipping = None

    def gather(self, runner) -> None:
        """Gather every rank's states for a checkpoint of this iteration
        (every rank calls it)."""
        self._gathered = ((runner.epoch, runner.iter),
                          all_gather_object(get_rng_state()))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._gathered and self._gathered[0] == (runner.epoch,
                                                    runner.iter):
            checkpoint['rng_state'] = self._gathered[1]

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        for h in runner.hooks:
            if isinstance(h, CheckpointHook) and not h.by_epoch and (
                    h.every_n_train_iters(runner, h.interval, h.save_begin)
                    or h.save_last and self.is_last_train_iter(runner)):
                self.gather(runner)

    def after_train_epoch(self, runner) -> None:
        if self._skipping:  # the resumed epoch is over
            batches, sampler = self._skipping
            batches.sampler, self._skipping = sampler, None
        self.gather(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        """Restore on resume (``load_from`` starts at iteration 0), after
        mmengine's re-seeding."""
        states, self._loaded = self._loaded, None
        if not states or runner.iter == 0:
            return
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: the checkpoint has the RNG states of '
                      f'{len(states)} processes, this run has '
                      f'{get_world_size()}: they are not restored',
                      logger='current', level=logging.WARNING)
            return
        state, loop = states[get_rank()], runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            return call_after_replay(loop, lambda: set_rng_state(state))
        batches, done = runner.train_dataloader.batch_sampler, 0
        if isinstance(loop, EpochBasedTrainLoop):
            done = runner.iter - runner.epoch * len(runner.train_dataloader)
        if done and type(batches) is BatchSampler:
            self._skipping = (batches, batches.sampler)
            batches.sampler = _SkipFirst(batches.sampler,
                                         done * batches.batch_size, state)
            return
        if done:
            print_log(f'RNGStateHook: cannot skip the {done} batches this '
                      f'epoch had with a {type(batches).__name__}: the '
                      'epoch restarts from its first batch',
                      logger='current', level=logging.WARNING)
        set_rng_state(state)
