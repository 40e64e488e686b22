"""Inference APIs: :class:`HardPatchInferencer`, and hpm_mm's models in
mmpretrain's ``ModelHub`` (``import hpm_mm`` registers them) for
``list_models``, ``get_model``, ``FeatureExtractor`` and
``inference_model``."""
from ..structures import HardPatchResult
from .hard_patch_inferencer import HardPatchInferencer
from .model_index import MIM_ROOT, MODEL_INDEX, register_hpm_models

__all__ = [
    'HardPatchInferencer', 'HardPatchResult', 'register_hpm_models',
    'MIM_ROOT', 'MODEL_INDEX'
]
