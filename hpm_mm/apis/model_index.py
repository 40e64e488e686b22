"""hpm_mm's model index in mmpretrain's ModelHub, read where openmim
looks for it: ``hpm_mm/.mim/model-index.yml``, whose ``configs`` and
``tools`` are links to the repository's folders (OpenMMLab's ``.mim``
layout); the metafiles' config paths are relative to that folder."""
import functools
import os.path as osp

from mmpretrain.apis import ModelHub

#: OpenMMLab's ``.mim`` folder of the package (openmim reads it).
MIM_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')
#: The package's model index.
MODEL_INDEX = osp.join(MIM_ROOT, 'model-index.yml')


@functools.cache  # ModelHub refuses a model name registered twice
def register_hpm_models() -> None:
    """Register hpm_mm's model index with mmpretrain's ``ModelHub``."""
    ModelHub.register_model_index(MODEL_INDEX, config_prefix=MIM_ROOT)
