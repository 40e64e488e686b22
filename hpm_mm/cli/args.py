"""Command-line options, config loading and the tools' error handler."""
import argparse
import os
import sys
from contextlib import contextmanager
from typing import Iterator, List, Optional

from mmengine.config import Config, DictAction

#: Set (to anything) to see the traceback of an error a tool reports.
DEBUG_VAR = 'HPM_MM_DEBUG'


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_dataloader.batch_size=64')
    add_launcher_args(parser)


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_common_args(parser: argparse.ArgumentParser,
                      argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line) and export
    ``LOCAL_RANK`` as the OpenMMLab launchers expect."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


@contextmanager
def one_line_errors(prog: str) -> Iterator[None]:
    """End the tool with ``PROG: error: MESSAGE`` and exit code 1 on any
    exception, its message on one line; with ``HPM_MM_DEBUG`` set, raise
    it with its traceback instead."""
    try:
        yield
    except Exception as err:  # noqa: BLE001  (reported, not swallowed)
        if os.environ.get(DEBUG_VAR):
            raise
        text = err.args[0] if len(err.args) == 1 and isinstance(
            err.args[0], str) else str(err)  # KeyError's str() adds quotes
        print(f'{prog}: {DEBUG_VAR}=1 shows the traceback', file=sys.stderr)
        text = ' '.join(text.split()) or type(err).__name__
        raise SystemExit(f'{prog}: error: {text}') from None


def load_config(path: str) -> Config:
    """``Config.fromfile(path)``, naming the cause of two errors.

    Raises:
        SyntaxError: ``PATH:LINE: MESSAGE`` from Python's own (``compile``
            of ``path``), or ``PATH: line N of a _base_ file: MESSAGE``.
        ImportError: ``PATH: `` and the innermost import error of the
            chain, which says what is missing (mmengine wraps a failed
            ``custom_imports`` in a list of ``sys.path``).
    """
    try:
        if path.endswith('.py') and os.path.isfile(path):
            with open(path, encoding='utf-8') as f:
                compile(f.read(), path, 'exec')
        return Config.fromfile(path)
    except SyntaxError as err:  # mmengine parses _base_ files unnamed
        where = f'{path}:{err.lineno}' if err.filename == path else \
            f'{path}: line {err.lineno} of a _base_ file'
        raise SyntaxError(f'{where}: {err.msg}') from err
    except ImportError as err:
        cause: BaseException = err
        while cause.__cause__ or (cause.__context__ and
                                  not cause.__suppress_context__):
            cause = cause.__cause__ or cause.__context__
        raise ImportError(f'{path}: {cause}') from err
