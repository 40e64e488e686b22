"""hpm_mm: Hard Patches Mining for masked image modeling on OpenMMLab.

Importing the package registers the pre-training modules (the HPM
algorithm and its parts, hooks, transforms) in mmpretrain's registries and
needs only mmpretrain's stack (mmengine, mmcv without ops, mmpretrain).
The downstream pieces register in mmdet's and mmseg's registries when
``hpm_mm.downstream.det`` / ``hpm_mm.downstream.seg`` are imported. Configs
pull them in with, e.g.,
``custom_imports = dict(imports=['hpm_mm', 'hpm_mm.downstream.det'],
allow_failed_imports=False)``. Importing also registers hpm_mm's model index
(``model-index.yml``) with mmpretrain's ``ModelHub``. Nothing else
changes: what a run needs beyond the stock stack (weights-only loading of
mmengine checkpoints, atomic checkpoint writes) lives in hooks the configs
name (:mod:`hpm_mm.engine.hooks`), and the CPU fallback of the ``pytorch``
launcher in the command-line tools (:mod:`hpm_mm.cli`).
"""
from . import datasets, engine, models  # noqa: F401
from .apis import register_hpm_models
from .version import __version__

# mmpretrain.list_models('*hpm*'), get_model(...), FeatureExtractor(...)
register_hpm_models()

__all__ = ['__version__']
