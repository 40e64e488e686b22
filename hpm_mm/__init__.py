"""hpm_mm: Hard Patches Mining for masked image modeling on OpenMMLab.

Importing the package registers the pre-training modules (the HPM
algorithm and its parts, hooks, transforms) in mmpretrain's registries and
needs only mmpretrain's stack (mmengine, mmcv without ops, mmpretrain).
The downstream pieces register in mmdet's and mmseg's registries when
``hpm_mm.downstream.det`` / ``hpm_mm.downstream.seg`` are imported. Configs
pull them in with, e.g.,
``custom_imports = dict(imports=['hpm_mm', 'hpm_mm.downstream.det'],
allow_failed_imports=False)``. Importing also registers hpm_mm's model index
(``model-index.yml``) with mmpretrain's ``ModelHub``.
"""
from .compat import (allow_cpu_distributed, allow_mmengine_checkpoints,
                     save_checkpoints_atomically)

allow_mmengine_checkpoints()
allow_cpu_distributed()
save_checkpoints_atomically()

from . import datasets, engine, models  # noqa: E402,F401
from .apis import register_hpm_models  # noqa: E402
from .version import __version__  # noqa: E402

# mmpretrain.list_models('*hpm*'), get_model(...), FeatureExtractor(...)
register_hpm_models()

__all__ = ['__version__']
