"""A one-line error when a downstream package's libraries are missing."""
import importlib
from typing import Sequence

SETUP_HINT = ('install the full stack with `make setup-full` '
              '(`bash tools/setup_env.sh --full`)')
_PACKAGES = {
    'mmseg': 'mmsegmentation',
    'mmcv.ops': 'mmcv built with ops (mmcv-lite has no mmcv.ops)',
}


def require(user: str, modules: Sequence[str], extra: str) -> None:
    """Import ``modules`` or fail with one line saying what to install.

    ``import hpm_mm`` needs only mmpretrain's stack; the downstream
    packages also need mmdet or mmseg, and mmcv built with its C++ ops
    (``mmcv-lite``, enough for pre-training, has no ``mmcv.ops``).

    Args:
        user (str): The importing package, e.g. ``'hpm_mm.downstream.det'``.
        modules (tuple[str]): Modules it needs, e.g. ``('mmdet',
            'mmcv.ops')``.
        extra (str): The pip extra of hpm_mm that installs them.

    Raises:
        ImportError: Naming the first module that does not import and how
            to install it.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            what = _PACKAGES.get(module, module)
            reason = (str(e).splitlines() or [type(e).__name__])[0]
            raise ImportError(
                f'{user} needs {what} ({reason}): {SETUP_HINT} '
                f'or `pip install -e .[{extra}]`') from None
