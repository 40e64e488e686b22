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

    During ``runner.train()`` the handlers only note the signal. One
    process stops after the iteration the signal came in. With several,
    every ``interval`` iterations the ranks all-reduce (MAX) their notes on
    a CPU (gloo) group and all stop after that iteration if any had one.
    A signal in the last iteration of training lets training end as usual.
    To stop, ``runner.save_checkpoint`` writes ``preempted_iter_N.pth``
    into the ``CheckpointHook``'s ``out_dir`` with its ``backend_args``,
    recorded in ``last_checkpoint``; the log says ``preempted (SIGTERM) at
    iter N: saved PATH; resume with --resume``; the process exits with
    :data:`PREEMPTED_EXIT_CODE`.

    Args:
        signals (Sequence[str]): The signals that stop training.
            Defaults to ('SIGTERM', 'SIGUSR1').
        interval (int): Iterations between the ranks' agreements (the
            delay before a multi-process run stops). Defaults to 10.
    """

    priority = 'LOWEST'  # after the logger and the CheckpointHook

    def __init__(self,
                 signals: Sequence[str] = ('SIGTERM', 'SIGUSR1'),
                 interval: int = 10):
        for name in signals:
            if not isinstance(getattr(signal, name, None), signal.Signals):
                raise ValueError(f'PreemptionHook: unknown signal {name!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'PreemptionHook: interval must be a positive '
                             f'integer, got {interval!r}')
        self.signals = [getattr(signal, name) for name in signals]
        self.interval = interval
        self._previous: dict = {}

    def before_train(self, runner) -> None:
        self._received, self._group = 0, None
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

    def _agreed(self, runner) -> int:
        """The signal any rank has noted (0: none), the same on all."""
        if get_world_size() == 1:
            return self._received
        if (runner.iter + 1) % self.interval:
            return 0
        flag = torch.tensor(self._received)
        dist.all_reduce(flag, dist.ReduceOp.MAX, group=self._group)
        return int(flag)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        signum = self._agreed(runner)
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
        # The handlers stay: a launcher may signal the ranks still running.
        close_distributed()  # every rank waits for rank 0's checkpoint
        sys.exit(PREEMPTED_EXIT_CODE)
