"""Downstream benchmarks of HPM encoders.

``import hpm_mm`` needs only mmpretrain's stack, so the pieces that need
mmdet or mmseg live in their own packages, which the det/seg configs
import through ``custom_imports``: ``hpm_mm.downstream.det`` registers
ViTDet, the simple feature pyramid and the layer-decay constructor in
mmdet's registries, ``hpm_mm.downstream.seg`` the checked MAE backbone in
mmseg's. Either fails with one line naming what to install (:func:`require`)
when its libraries are missing. Classification needs nothing new:
mmpretrain's ``VisionTransformer`` loads an HPM checkpoint's ``backbone.*``.
"""
import importlib
from typing import Sequence

from .weights import PretrainedEncoder

__all__ = ['PretrainedEncoder', 'require']

_PACKAGES = {
    'mmseg': 'mmsegmentation',
    'mmcv.ops': 'mmcv built with ops (mmcv-lite has no mmcv.ops)',
}


def require(user: str, modules: Sequence[str], extra: str) -> None:
    """Import ``modules`` or fail with one line saying what to install.

    Args:
        user (str): The importing package, e.g. ``'hpm_mm.downstream.det'``.
        modules (Sequence[str]): Modules it needs, e.g. ``('mmdet',
            'mmcv.ops')`` (mmcv-lite, enough for pre-training, has no ops).
        extra (str): The pip extra of hpm_mm that installs them.

    Raises:
        ImportError: Naming the first module that does not import, why, and
            how to install it.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            reason = (str(e).splitlines() or [type(e).__name__])[0]
            raise ImportError(
                f'{user} needs {_PACKAGES.get(module, module)} ({reason}): '
                'install the full stack with `make setup-full` (`bash '
                f'tools/setup_env.sh --full`) or `pip install -e .[{extra}]`'
            ) from None
