"""Pick the checkpoint ``--resume`` (without a path) continues from."""
import glob
import logging
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..converters import CheckpointError, check_checkpoint

_NUMBERED = re.compile(r'(?:epoch|iter)_(\d+)\.pth')


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest first: the one ``last_checkpoint``
    names (mmengine's ``find_latest_checkpoint``), then every
    ``epoch_N.pth``/``iter_N.pth`` (not ``best_*``) by decreasing N."""
    numbered = {}
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = _NUMBERED.fullmatch(osp.basename(path))
        if match:
            numbered[path] = (int(match.group(1)), osp.getmtime(path))
    found = sorted(numbered, key=numbered.get, reverse=True)
    last = find_latest_checkpoint(work_dir)
    if last:
        found = [last] + [p for p in found if not (
            osp.isfile(last) and osp.samefile(p, last))]
    return found


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest readable checkpoint of ``work_dir``, or None if it has none.

    A newest checkpoint that cannot be read (truncated by a full disk, or
    missing though ``last_checkpoint`` names it) is skipped with a warning
    naming it and the checkpoint used instead.

    Raises:
        CheckpointError: There are checkpoints but none is readable.
    """
    bad = []
    for path in resume_candidates(work_dir):
        try:
            if not osp.isfile(path):
                raise CheckpointError(f'checkpoint not found: {path}')
            check_checkpoint(path)
        except CheckpointError as err:
            bad.append(str(err))
            continue
        if bad:
            print_log(f'--resume: {bad[0]}; resuming from {path} instead '
                      f'(the newest readable checkpoint)', logger='current',
                      level=logging.WARNING)
        return path
    if bad:
        raise CheckpointError(f'--resume: no readable checkpoint in '
                              f'{work_dir}; newest: {bad[0]}')
    return None
