"""Stop training cleanly on SIGTERM/SIGUSR1: checkpoint, one line, exit."""
import os.path as osp
import signal
import sys
import threading
from typing import Sequence

import torch
import torch.distributed as dist
from mmengine.dist import get_world_size, is_main_process
from mmengine.fileio import join_path
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ...fileio import write_text
from ..distributed import close_distributed
from .rng_state_hook import RNGStateHook

#: Exit status after a preemption checkpoint (sysexits' EX_TEMPFAIL, "try
#: again later"); ``tools/slurm_train.sh`` requeues the job on it.
PREEMPTED_EXIT_CODE = 75


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On SIGTERM/SIGUSR1: checkpoint, log one line, exit with 75.

    During ``runner.train()`` the handlers only note the signal. After each
    iteration every rank starts an all-reduce (MAX) of its note on a CPU
    group, without waiting, and reads it one iteration later: all ranks
    stop after the same iteration (one process: the one the signal came
    in), unless it is the last one of training. Then
    ``runner.save_checkpoint`` writes ``preempted_iter_N.pth`` into the
    ``CheckpointHook``'s ``out_dir`` with its ``backend_args``, recorded in
    ``last_checkpoint``; the log says ``preempted (SIGTERM) at iter N:
    saved PATH; resume with --resume``; the process exits with
    :data:`PREEMPTED_EXIT_CODE`.

    Args:
        signals (Sequence[str]): The signals that stop training.
            Defaults to ('SIGTERM', 'SIGUSR1').
    """

    priority = 'LOWEST'  # after the logger and the CheckpointHook

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1')):
        for name in signals:
            if not isinstance(getattr(signal, name, None), signal.Signals):
                raise ValueError(f'PreemptionHook: unknown signal {name!r}')
        self.signals = [getattr(signal, name) for name in signals]
        self._previous: dict = {}

    def before_train(self, runner) -> None:
        self._received, self._work, self._group = 0, None, None
        if get_world_size() > 1 and dist.get_backend() != 'gloo':
            self._group = dist.new_group(backend='gloo')
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:  # only the main thread may
                self._previous[sig] = signal.signal(sig, self._note)

    def _note(self, signum: int, frame) -> None:
        self._received = signum

    def after_train(self, runner) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._work is not None:
            self._work.wait()

    def _agreed(self) -> int:
        """The signal any rank had noted one iteration ago (0: none)."""
        if get_world_size() == 1:
            return self._received
        agreed = 0
        if self._work is not None:
            self._work.wait()
            agreed = int(self._flag)
        self._flag = torch.tensor(self._received)
        self._work = dist.all_reduce(self._flag, dist.ReduceOp.MAX,
                                     group=self._group, async_op=True)
        return agreed

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        signum = self._agreed()
        if not signum or self.is_last_train_iter(runner):
            return
        for hook in runner.hooks:
            if isinstance(hook, RNGStateHook):
                hook.gather(runner)
        ckpt = next((h for h in runner.hooks
                     if isinstance(h, CheckpointHook)), None)
        out_dir = ckpt.out_dir if ckpt else runner.work_dir
        args = ckpt.backend_args if ckpt else None
        done = runner.iter + 1
        name = f'preempted_iter_{done}.pth'
        runner.save_checkpoint(out_dir, name, backend_args=args,
                               meta=dict(epoch=runner.epoch, iter=done))
        path = join_path(out_dir, name, backend_args=args)
        if is_main_process():
            write_text(osp.join(runner.work_dir, 'last_checkpoint'), path)
        print_log(f'preempted ({signal.Signals(signum).name}) at iter {done}'
                  f': saved {path}; resume with --resume', logger='current')
        runner.call_hook('after_run')  # closes the visualizer, copies logs
        if self._work is not None:  # the handlers stay: a launcher may
            self._work.wait()  # signal the ranks that have not left yet
        close_distributed()  # every rank waits for rank 0's checkpoint
        sys.exit(PREEMPTED_EXIT_CODE)
