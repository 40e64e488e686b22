"""Inference APIs of hpm_mm (the OpenMMLab name for them).

- :func:`register_hpm_models`: hpm_mm's model index in mmpretrain's
  ``ModelHub`` (done by ``import hpm_mm``), for ``mmpretrain.list_models``,
  ``get_model``, ``FeatureExtractor`` and ``inference_model``.
- :class:`HardPatchInferencer`: the teacher's per-patch predicted losses,
  the mask HPM would draw and the student's reconstruction for given
  images.
"""
from ..structures import HardPatchResult
from .hard_patch_inferencer import HardPatchInferencer, resize_center_crop
from .model_index import MIM_ROOT, MODEL_INDEX, register_hpm_models

__all__ = [
    'HardPatchInferencer', 'HardPatchResult', 'resize_center_crop',
    'register_hpm_models', 'MIM_ROOT', 'MODEL_INDEX'
]
