"""hpm_mm: Hard Patches Mining for masked image modeling on OpenMMLab.

Importing the package registers the pre-training modules (the HPM
algorithm and its parts, hooks, transforms) in mmpretrain's registries,
and hpm_mm's model index (``model-index.yml``) with mmpretrain's
``ModelHub``; it needs only mmpretrain's stack (mmengine, mmcv without
ops, mmpretrain). The downstream pieces register in mmdet's and mmseg's
registries when ``hpm_mm.downstream.det`` / ``hpm_mm.downstream.seg`` are
imported, e.g. by a config's ``custom_imports = dict(imports=['hpm_mm',
'hpm_mm.downstream.det'], allow_failed_imports=False)``.
"""
from . import datasets, engine, models  # noqa: F401
from .apis import register_hpm_models
from .version import __version__

# mmpretrain.list_models('*hpm*'), get_model(...), FeatureExtractor(...)
register_hpm_models()

__all__ = ['__version__']
