"""hpm_mm: Hard Patches Mining for masked image modeling on OpenMMLab.

Importing the package registers every module: the HPM algorithm and its
parts in mmpretrain's registries, and the downstream pieces in mmdet's and
mmseg's, and registers hpm_mm's model index (``model-index.yml``) with
mmpretrain's ``ModelHub``. Configs can pull it in with
``custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)``.
"""
from .compat import (allow_cpu_distributed, allow_mmengine_checkpoints,
                     save_checkpoints_atomically)

allow_mmengine_checkpoints()
allow_cpu_distributed()
save_checkpoints_atomically()

from . import datasets, downstream, engine, models  # noqa: E402,F401
from .apis import register_hpm_models  # noqa: E402
from .version import __version__  # noqa: E402

# mmpretrain.list_models('*hpm*'), get_model(...), FeatureExtractor(...)
register_hpm_models()

__all__ = ['__version__']
