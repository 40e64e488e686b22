"""Files that are complete or absent, and one line when they cannot be
written."""
import glob
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable

from mmengine.fileio import LocalBackend, register_backend


class OutputWriteError(OSError):
    """A file or folder that cannot be written (a one-line message)."""


def check_writable_dir(folder: str, what: str) -> None:
    """Create ``folder`` if needed and write (then remove) a file in it.

    Raises:
        OutputWriteError: ``'<what> is not writable: <folder> (<reason>)'``.
    """
    try:
        if osp.exists(folder) and not osp.isdir(folder):
            raise NotADirectoryError(0, 'Not a directory')
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OutputWriteError(f'{what} is not writable: {folder} '
                               f'({err.strerror or err})') from None


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Let ``write`` fill ``.NAME.part-PID`` beside ``path``, flush it to
    the disk and rename it to ``path`` (atomic on one file system: ``path``
    is the old file, or absent, or the complete new one). The temporary
    file is removed if ``write`` fails."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.part-{os.getpid()}')
    try:
        write(tmp)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` with :func:`write_atomically`."""
    write_atomically(path, lambda tmp: LocalBackend().put_text(text, tmp))


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` writing with :func:`write_atomically`,
    for ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.

    A ``put`` first removes the temporary files of killed writers of the
    same extension, and raises :class:`OutputWriteError` (``'cannot write
    PATH: REASON (needs X MiB, Y MiB free in FOLDER); ...'``) if it fails.
    ``remove`` waits for the next complete ``put``: ``max_keep_ckpts``
    removes the oldest checkpoint before it writes the new one.
    """

    pending_removals: list = []  # class-wide: each save makes a backend

    def put(self, obj: bytes, filepath) -> None:
        folder = osp.dirname(osp.abspath(filepath))
        ext = osp.splitext(filepath)[1]  # e.g. checkpoints of killed runs
        for stale in glob.glob(osp.join(folder, f'.*{ext}.part-*')):
            os.remove(stale)
        try:
            write_atomically(filepath,
                             lambda tmp: LocalBackend.put(self, obj, tmp))
        except OSError as err:
            free = shutil.disk_usage(folder).free if osp.isdir(folder) else 0
            raise OutputWriteError(
                f'cannot write {filepath}: {err.strerror or err} (needs '
                f'{len(obj) / 2**20:.1f} MiB, {free / 2**20:.1f} MiB free in '
                f'{folder}); earlier files are kept') from err
        while self.pending_removals:
            old = self.pending_removals.pop()
            if osp.isfile(old) and not osp.samefile(old, filepath):
                os.remove(old)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def remove(self, filepath) -> None:
        self.pending_removals.append(str(filepath))
