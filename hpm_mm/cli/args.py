"""Command-line options and error reporting shared by the tools."""
import argparse
import os
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple, Type

from mmengine.config import DictAction

from ..converters import CheckpointError
from ..errors import ConfigError
from ..fileio import OutputWriteError
from .config_checks import DatasetError


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


#: Errors of the user's inputs (files, config entries) and outputs (a work
#: dir that cannot be written), raised with a one-line message that names
#: the config entry or the path.
INPUT_ERRORS = (CheckpointError, ConfigError, DatasetError,
                FileNotFoundError, OutputWriteError)


@contextmanager
def exit_on_input_error(prog: str,
                        errors: Tuple[Type[BaseException], ...] = INPUT_ERRORS
                        ) -> Iterator[None]:
    """Turn ``errors`` into ``prog: error: MESSAGE`` on stderr and exit 1.

    For the pre-flight part of a tool: a bad input ends with its one-line
    message instead of a traceback.

    Args:
        prog (str): The tool's name.
        errors (tuple[type]): The exception types to report.
    """
    try:
        yield
    except errors as err:
        raise SystemExit(f'{prog}: error: {_one_line(err)}') from None


def _one_line(err: BaseException) -> str:
    text = err.args[0] if len(err.args) == 1 and isinstance(
        err.args[0], str) else str(err)
    return ' '.join(text.split()) or type(err).__name__
