"""Inference APIs: :class:`HardPatchInferencer` (images),
:class:`HardTubeInferencer` (clips, needs mmaction2), and hpm_mm's models in
mmpretrain's ``ModelHub`` (``import hpm_mm`` registers them) for
``list_models``, ``get_model``, ``FeatureExtractor`` and
``inference_model``."""
from ..structures import HardPatchResult, HardTubeResult
from .hard_patch_inferencer import HardPatchInferencer
from .hard_tube_inferencer import HardTubeInferencer
from .model_index import MIM_ROOT, MODEL_INDEX, register_hpm_models

__all__ = [
    'HardPatchInferencer', 'HardPatchResult', 'HardTubeInferencer',
    'HardTubeResult', 'register_hpm_models', 'MIM_ROOT', 'MODEL_INDEX'
]
