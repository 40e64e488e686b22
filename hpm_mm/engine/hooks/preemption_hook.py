"""Stop training cleanly on SIGTERM/SIGUSR1: checkpoint, one line, exit."""
import os.path as osp
import signal
import sys
import threading
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ..distributed import close_distributed
from .rng_state_hook import RNGStateHook

#: Exit status of a training process that stopped on a preemption signal
#: after saving a checkpoint: sysexits' EX_TEMPFAIL ("temporary failure;
#: try again later"). ``tools/slurm_train.sh`` requeues the job on it.
PREEMPTED_EXIT_CODE = 75

#: Name of a checkpoint taken in the middle of an epoch of an epoch-based
#: run (the end-of-epoch checkpoints keep the CheckpointHook's own names).
MID_EPOCH_TMPL = 'preempted_iter_{}.pth'


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Checkpoint and exit when the job is about to be ended.

    Clusters end jobs with a signal: Slurm sends SIGTERM at preemption and
    at the time limit (then SIGKILL after ``KillWait``, 30 s by default),
    and, with ``sbatch --signal=USR1@120``, SIGUSR1 two minutes before the
    time limit. While training, this hook's handlers only note the signal.
    After each iteration the note is combined across ranks (a MAX
    all-reduce of one integer), so all ranks stop after the same iteration
    whichever rank got the signal. Then:

    * the runner's ``CheckpointHook`` saves a checkpoint (through its own
      save method, so its atomic writing and ``last_checkpoint`` record
      apply): in the middle of an epoch of an epoch-based run it is
      ``preempted_iter_N.pth`` (outside the rotation of ``max_keep_ckpts``);
      after the last iteration of an epoch it is the regular epoch
      checkpoint; in an iteration-based run the regular ``iter_N.pth``;
    * one line is logged: ``preempted at iter N: saved PATH; resume with
      --resume``;
    * the process exits with :data:`PREEMPTED_EXIT_CODE` (75).

    ``--resume`` then continues at iteration N + 1; with
    :class:`RNGStateHook` the resumed run is the uninterrupted one (the
    RNG states of every rank and the position in the epoch are restored).
    Signals outside ``runner.train()`` keep their previous handlers.

    Args:
        signals (Sequence[str]): Names of the signals that stop training.
            Defaults to ('SIGTERM', 'SIGUSR1').
    """

    priority = 'LOWEST'  # after the CheckpointHook and every other hook

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1')):
        self.signals = []
        for name in signals:
            sig = getattr(signal, str(name), None)
            if not isinstance(sig, signal.Signals):
                raise ValueError(f'PreemptionHook: unknown signal {name!r}')
            self.signals.append(sig)
        self._received = 0
        self._previous: Dict[signal.Signals, object] = {}
        self._stop_at_epoch_end = 0  # the agreed signal, or 0

    def _note(self, signum: int, frame) -> None:
        self._received = signum

    def before_train(self, runner) -> None:
        """Install the handlers (the main thread owns signals)."""
        self._received, self._stop_at_epoch_end = 0, 0
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may handle signals
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._note)

    def after_train(self, runner) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _agreed(self) -> int:
        """The signal any rank received (0: none), the same on all ranks."""
        flag = torch.tensor([self._received], dtype=torch.int32)
        all_reduce(flag, op='max')
        return int(flag.item())

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        signum = self._agreed()
        if not signum:
            return
        ckpt_hook = self._checkpoint_hook(runner)
        if ckpt_hook.by_epoch and self.end_of_epoch(runner.train_dataloader,
                                                    batch_idx):
            # the epoch ends now: its own checkpoint follows
            self._stop_at_epoch_end = signum
            return
        done = runner.iter + 1
        if ckpt_hook.by_epoch:
            path = self._save(runner, ckpt_hook, done,
                              dict(epoch=runner.epoch, iter=done),
                              MID_EPOCH_TMPL)
        else:
            path = self._save(runner, ckpt_hook, done, None, None)
        self._exit(runner, signum, done, path)

    def after_train_epoch(self, runner) -> None:
        if not self._stop_at_epoch_end:
            return
        if self.is_last_train_epoch(runner):
            return  # nothing left to train: end as usual
        ckpt_hook = self._checkpoint_hook(runner)
        path = self._save(runner, ckpt_hook, runner.epoch + 1, None, None)
        self._exit(runner, self._stop_at_epoch_end, runner.iter, path)

    @staticmethod
    def _checkpoint_hook(runner) -> CheckpointHook:
        """The runner's CheckpointHook, or a plain one saving to work_dir."""
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook):
                return hook
        hook = CheckpointHook(by_epoch=False)
        hook.before_train(runner)
        return hook

    @staticmethod
    def _save(runner, ckpt_hook: CheckpointHook, step: int,
              meta: Optional[dict], filename_tmpl: Optional[str]) -> str:
        """Save through ``ckpt_hook`` unless it has just saved this step.

        Args:
            runner (Runner): The runner.
            ckpt_hook (CheckpointHook): Saves the checkpoint.
            step (int): Epoch (by-epoch hook at an epoch end) or iteration
                number in the file name.
            meta (dict, optional): ``epoch``/``iter`` to record; None for the
                hook's own.
            filename_tmpl (str, optional): A name template instead of the
                hook's; such a checkpoint stays out of its rotation.

        Returns:
            str: The checkpoint's path.
        """
        for hook in runner.hooks:
            if isinstance(hook, RNGStateHook):
                hook.collect(runner)  # every rank's generators
        tmpl = filename_tmpl or ckpt_hook.filename_tmpl
        path = ckpt_hook.file_backend.join_path(ckpt_hook.out_dir,
                                                tmpl.format(step))
        if ckpt_hook.last_ckpt == path:
            return path  # the CheckpointHook saved it a moment ago
        if filename_tmpl is None:
            ckpt_hook._save_checkpoint(runner)
            return path
        saved = ckpt_hook.filename_tmpl, ckpt_hook.max_keep_ckpts
        ckpt_hook.filename_tmpl, ckpt_hook.max_keep_ckpts = filename_tmpl, -1
        try:
            ckpt_hook._save_checkpoint_with_step(runner, step, meta)
        finally:
            ckpt_hook.filename_tmpl, ckpt_hook.max_keep_ckpts = saved
        return path

    def _exit(self, runner, signum: int, done: int, path: str) -> None:
        """Log the one line, close the run and exit with the code."""
        barrier()  # no rank leaves (ending the job) before rank 0 has saved
        name = signal.Signals(signum).name
        if is_main_process() and not osp.isfile(path) and '://' not in path:
            raise RuntimeError(f'preempted ({name}) at iter {done}: the '
                               f'checkpoint {path} was not written')
        print_log(f'preempted ({name}) at iter {done}: saved {path}; '
                  'resume with --resume', logger='current')
        runner.call_hook('after_run')  # closes the visualizer, copies logs
        # The handlers stay: a launcher that sees the first rank leave may
        # signal the others, which all exit with this code a moment later.
        close_distributed()
        sys.exit(PREEMPTED_EXIT_CODE)
