"""Downstream benchmarks of HPM encoders.

Importing this package registers, in mmdet's registries, the ViTDet
backbone, the simple feature pyramid and the layer-decay optimizer
constructor, and in mmseg's the checked MAE backbone. Classification needs
nothing new: mmpretrain's ``VisionTransformer`` loads the ``backbone.*`` of
an HPM checkpoint as is.
"""
from .det import (SimpleFeaturePyramid, ViTDet, ViTDetBlock,
                  ViTLayerDecayOptimWrapperConstructor)
from .seg import CheckedMAE
from .weights import is_pretrained, load_pretrained

__all__ = [
    'ViTDet', 'ViTDetBlock', 'SimpleFeaturePyramid',
    'ViTLayerDecayOptimWrapperConstructor', 'CheckedMAE', 'is_pretrained',
    'load_pretrained'
]
