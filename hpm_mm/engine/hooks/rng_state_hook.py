"""Save and restore every random number generator with the checkpoint."""
import logging
import random
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS
from torch.utils.data import BatchSampler


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


class _ResumeInEpoch:
    """Sampler that skips the indices of the batches an epoch already had.

    Installed as ``batch_sampler.sampler`` for the first epoch after a
    resume from a checkpoint taken in the middle of an epoch: the batch
    sampler then groups the remaining indices into the same batches as the
    uninterrupted epoch, and nothing is loaded for the skipped ones. The
    saved RNG state is applied when iteration starts, i.e. after the data
    loader's iterator has drawn its base seed, as in the uninterrupted run
    where the checkpoint was taken after that draw.
    """

    def __init__(self, sampler, skip: int, state: Optional[dict]):
        self.sampler, self.skip, self.state = sampler, skip, state

    def __iter__(self):
        if self.state is not None:
            set_rng_state(self.state)
            self.state = None
        indices = iter(self.sampler)
        for _ in range(self.skip):
            next(indices, None)
        yield from indices

    def __len__(self) -> int:
        return max(len(self.sampler) - self.skip, 0)

    def __getattr__(self, name):
        return getattr(self.sampler, name)


def _batches_done_in_epoch(loop) -> int:
    """How many batches of the current epoch an epoch-based loop has had."""
    dataloader = getattr(loop, 'dataloader', None)
    if dataloader is None or not hasattr(loop, 'epoch'):
        return 0
    return loop.iter - loop.epoch * len(dataloader)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put the generator states in each checkpoint; restore them on resume.

    With them, a resumed run draws the same masks and (with
    ``num_workers=0``) the same augmentations as an uninterrupted run.
    Data-loader workers (``num_workers > 0``) get seeds drawn when their
    iterator is created, so their augmentations after a resume differ.
    Checkpoints are taken at iteration or epoch ends, where these states
    are exactly those the next iteration starts from.

    In distributed training each rank draws its own numbers; the states of
    all ranks are gathered (one small all-gather) at each epoch end, where
    an iteration-based ``CheckpointHook`` is about to save, and when
    :meth:`collect` is called (``PreemptionHook``), and the checkpoint
    holds one state per rank (``checkpoint['rng_state']``, a list). A run
    resumed with another number of ranks keeps its fresh seeds (a warning
    says so). An epoch-based run resumed from a checkpoint taken in the
    middle of an epoch continues that epoch after the batches it already
    had, without loading them.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._skip_installed: Optional[Tuple[object, object]] = None
        self._collected: Optional[Tuple[tuple, List[dict]]] = None

    @staticmethod
    def _position(runner) -> tuple:
        return (runner.epoch, runner.iter)

    def collect(self, runner) -> None:
        """Gather every rank's states for the next checkpoint (all ranks)."""
        if get_world_size() > 1:
            self._collected = (self._position(runner),
                               all_gather_object(get_rng_state()))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if get_world_size() == 1:
            return
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch and (
                    hook.every_n_train_iters(runner, hook.interval,
                                             hook.save_begin) or
                (hook.save_last and hook.is_last_train_iter(runner))):
                self.collect(runner)
                return

    def after_train_epoch(self, runner) -> None:
        if self._skip_installed is not None:
            batch_sampler, sampler = self._skip_installed
            batch_sampler.sampler = sampler
            self._skip_installed = None
        self.collect(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() == 1:
            checkpoint['rng_state'] = [get_rng_state()]
        elif self._collected is not None and \
                self._collected[0] == self._position(runner):
            checkpoint['rng_state'] = self._collected[1]
        # else: a checkpoint without the other ranks' states (none saved)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Applied later: mmengine may still re-seed while resuming.
        if not runner._resume or 'rng_state' not in checkpoint:
            return
        states = checkpoint['rng_state']
        if isinstance(states, dict):  # one process
            states = [states]
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: the checkpoint has the RNG states of '
                      f'{len(states)} processes, this run has '
                      f'{get_world_size()}: they are not restored (the '
                      'resumed run draws other masks and augmentations)',
                      logger='current', level=logging.WARNING)
            return
        self._pending = states[get_rank()]

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            if loop.iter > 0:  # IterBasedTrainLoop replays loop.iter batches
                loop.dataloader_iterator = _RestoreAfterSkip(
                    loop.dataloader_iterator, loop.iter, self._pending)
            else:
                set_rng_state(self._pending)
        elif _batches_done_in_epoch(loop) > 0:
            self._resume_in_epoch(loop, _batches_done_in_epoch(loop))
        else:
            set_rng_state(self._pending)
        self._pending = None

    def _resume_in_epoch(self, loop, done: int) -> None:
        batch_sampler = getattr(loop.dataloader, 'batch_sampler', None)
        if type(batch_sampler) is not BatchSampler:
            print_log(f'RNGStateHook: cannot skip the {done} batches this '
                      f'epoch already had with a '
                      f'{type(batch_sampler).__name__}: the epoch restarts '
                      'from its first batch', logger='current',
                      level=logging.WARNING)
            set_rng_state(self._pending)
            return
        sampler = batch_sampler.sampler
        batch_sampler.sampler = _ResumeInEpoch(
            sampler, done * batch_sampler.batch_size, self._pending)
        self._skip_installed = (batch_sampler, sampler)
