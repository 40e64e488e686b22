"""Load a config, turning a syntax error or a missing downstream library
into one line."""
from mmengine.config import Config

from ..downstream.requirements import SETUP_HINT
from .config_errors import ConfigError, describe_syntax_error

_DOWNSTREAM_LIBS = ('mmdet', 'mmseg', 'mmcv')


def load_config(path: str) -> Config:
    """``Config.fromfile``, failing in one line on a syntax error or when a
    library is missing.

    A det/seg config on the pre-training stack fails inside mmengine,
    either on its ``mmdet::``/``mmseg::`` base (``mmdet is not installed``)
    or on ``custom_imports`` (``Failed to import hpm_mm.downstream.det``,
    caused by that package's own one-line error, when mmdet is there but
    mmcv has no ops).

    Args:
        path (str): The config file.

    Returns:
        Config: The loaded config.

    Raises:
        ConfigError: ``'<file>:<line>: <what is wrong>'`` when ``path`` or
            one of its ``_base_`` files does not parse.
        SystemExit: ``'<path>: <what is missing>; <how to install it>'``
            when mmdet, mmseg or mmcv's ops are missing; other import
            errors propagate unchanged.
    """
    try:
        return Config.fromfile(path)
    except SyntaxError as err:
        raise ConfigError(describe_syntax_error(err, path)) from None
    except ImportError as err:
        first_lines = []
        cause = err
        while cause is not None:  # mmengine wraps the error, twice
            first_lines.append((str(cause).splitlines() or [''])[0])
            cause = cause.__cause__ or cause.__context__
        for msg in first_lines:
            if SETUP_HINT in msg:
                raise SystemExit(f'{path}: {msg}') from None
        if any(lib in first_lines[0] for lib in _DOWNSTREAM_LIBS):
            raise SystemExit(
                f'{path}: {first_lines[0]}; {SETUP_HINT}') from None
        raise
