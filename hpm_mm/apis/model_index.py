"""hpm_mm's model index in mmpretrain's ModelHub.

``import hpm_mm`` calls :func:`register_hpm_models`, after which
``mmpretrain.list_models('*hpm*')``, ``mmpretrain.get_model(name,
pretrained=PATH)``, ``mmpretrain.FeatureExtractor`` and
``mmpretrain.inference_model`` know the models of ``model-index.yml``.

The index is read where OpenMMLab packages keep it and where openmim looks
for it: ``hpm_mm/.mim/model-index.yml``, whose ``configs`` and ``tools`` are
links to the repository's folders (OpenMMLab's ``.mim`` layout). Config
paths in the metafiles are relative to that folder, as in mmpretrain.
"""
import os.path as osp

from mmpretrain.apis import ModelHub

#: OpenMMLab's ``.mim`` folder of the package (openmim reads it).
MIM_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')
#: The package's model index.
MODEL_INDEX = osp.join(MIM_ROOT, 'model-index.yml')

_registered = []


def register_hpm_models(model_index: str = MODEL_INDEX,
                        config_prefix: str = MIM_ROOT) -> None:
    """Register a model index with mmpretrain's ``ModelHub`` once.

    Args:
        model_index (str): ``model-index.yml`` to register. Defaults to
            hpm_mm's.
        config_prefix (str): Folder the metafiles' ``Config`` paths are
            relative to. Defaults to hpm_mm's ``.mim`` folder.

    Raises:
        FileNotFoundError: If ``model_index`` does not exist.
    """
    key = osp.realpath(model_index)
    if key in _registered:
        return
    if not osp.isfile(model_index):
        raise FileNotFoundError(f'model index not found: {model_index}')
    ModelHub.register_model_index(model_index, config_prefix=config_prefix)
    _registered.append(key)
