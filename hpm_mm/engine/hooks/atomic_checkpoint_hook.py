"""Checkpoints that are complete or absent, and one line when they cannot be
written."""
import glob
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from ...fileio import write_text


class OutputWriteError(OSError):
    """A checkpoint or output folder that cannot be written.

    The message is one line naming the path and the reason (and, for a
    checkpoint, the space it needs and the space left).
    """


def format_bytes(num: Optional[int]) -> str:
    """``num`` bytes for people: ``'512 B'``, ``'3.4 KiB'``, ``'1.21 GiB'``."""
    if num is None:
        return 'unknown'
    if num < 1024:
        return f'{num} B'
    for unit in ('KiB', 'MiB', 'GiB', 'TiB'):
        num /= 1024
        if num < 1024 or unit == 'TiB':
            return f'{num:.1f} {unit}' if num < 100 else f'{num:.0f} {unit}'
    return f'{num:.0f} TiB'  # pragma: no cover (the loop returns)


def check_writable_dir(folder: str, what: str) -> None:
    """Create ``folder`` if needed and write (then remove) a file in it.

    Args:
        folder (str): A local folder.
        what (str): How the message names it, e.g. ``'work_dir'``.

    Raises:
        OutputWriteError: ``'<what> is not writable: <folder> (<reason>)'``.
    """
    try:
        if osp.exists(folder) and not osp.isdir(folder):
            raise NotADirectoryError(0, 'a file, not a folder')
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write_check_', dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise OutputWriteError(f'{what} is not writable: {folder} '
                               f'({err.strerror or err})') from None


def payload_bytes(obj: Any) -> int:
    """Bytes of the tensors and arrays in ``obj`` (nested dicts/lists)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v) for v in obj)
    return 0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync(path: str, folder: bool = False) -> None:
    """Flush ``path`` to the disk (a folder: its entries, where possible)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not folder:  # some file systems cannot sync a folder
            raise
    finally:
        os.close(fd)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, writing each checkpoint atomically.

    Takes the same arguments. For a local ``out_dir`` (the work dir by
    default):

    - each checkpoint is written to a hidden temporary name in the same
      folder, flushed to the disk and renamed: a crash, SIGKILL or full
      disk while saving leaves the earlier checkpoints and no half-written
      file; ``last_checkpoint`` is replaced the same way;
    - with ``max_keep_ckpts``, the oldest checkpoint is removed only after
      the new one is complete (mmengine removes it first);
    - a checkpoint that cannot be written (disk full, quota, permissions)
      stops training with :class:`OutputWriteError`, one line naming the
      file, the space it needs (its tensors' bytes, or the previous
      checkpoint's size if larger) and the space left; ``tools/train.py``
      prints it as ``train: error: ...``;
    - an ``out_dir`` that cannot be written fails in ``before_train``,
      before the first iteration.

    Other back-ends (``s3://``, ``file_client_args``) are written by
    mmengine as usual. ``save_best`` checkpoints and ``published_keys``
    copies are written by mmengine's own code, not atomically.

    Configs select it with ``default_hooks.checkpoint.type``
    (``'mmpretrain.AtomicCheckpointHook'`` where the default scope is mmdet
    or mmseg).
    """

    _payload = 0  # bytes of the tensors of the checkpoint being saved

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not self._is_local() or not is_main_process():
            return
        check_writable_dir(self.out_dir, 'checkpoint folder')
        # temporary files of runs killed while saving
        for stale in glob.glob(osp.join(self.out_dir, '.*.part-*')):
            _remove(stale)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._payload = payload_bytes(checkpoint)

    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        previous = self.last_ckpt
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write_checkpoint(
            runner,
            filename,
            previous,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            **self.args)
        if not is_main_process():
            return
        if outdated is not None:
            _remove(
                osp.join(self.out_dir, self.filename_tmpl.format(outdated)))
        self._write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                         self.last_ckpt)

    def _write_checkpoint(self, runner, filename: str,
                          previous: Optional[str], **kwargs) -> None:
        """``runner.save_checkpoint`` to a temporary name, then rename."""
        path = osp.join(self.out_dir, filename)
        tmp_name = f'.{filename}.part-{os.getpid()}'
        tmp = osp.join(self.out_dir, tmp_name)
        try:
            runner.save_checkpoint(
                self.out_dir,
                tmp_name,
                self.file_client_args,
                backend_args=self.backend_args,
                **kwargs)
            if is_main_process():
                _fsync(tmp)
                os.replace(tmp, path)
                _fsync(self.out_dir, folder=True)
        except OSError as err:
            if is_main_process():
                _remove(tmp)
            raise OutputWriteError(self._describe(path, err,
                                                  previous)) from err

    def _describe(self, path: str, err: OSError,
                  previous: Optional[str]) -> str:
        needed = self._payload
        if previous and osp.isfile(previous):
            needed = max(needed, osp.getsize(previous))
        try:
            free = shutil.disk_usage(self.out_dir).free
        except OSError:
            free = None
        return (f'cannot write checkpoint {path}: {err.strerror or err} '
                f'(needs about {format_bytes(needed)}, {format_bytes(free)} '
                f'free in {self.out_dir}); the earlier checkpoints are kept')

    @staticmethod
    def _write_text(path: str, text: str) -> None:
        try:
            write_text(path, text)
        except OSError as err:
            raise OutputWriteError(f'cannot write {path}: '
                                   f'{err.strerror or err}') from err
