"""Files written so that a crash never leaves a half-written one."""
import os
import os.path as osp
from typing import Callable


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Let ``write`` fill a temporary file beside ``path``, then rename it.

    The rename is atomic on one filesystem: ``path`` is either the old file
    (or absent) or the complete new one; the temporary file is removed if
    ``write`` fails.

    Args:
        path (str): The file to write.
        write (Callable[[str], None]): Writes the content to the path it is
            given.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # hidden, and named as AtomicCheckpointHook's leftovers of killed runs
    tmp = osp.join(folder, f'.{osp.basename(path)}.part-{os.getpid()}')
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`write_atomically`).
    """

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)

    write_atomically(path, write)
