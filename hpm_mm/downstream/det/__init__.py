"""COCO: ViTDet backbone, simple feature pyramid, layer decay (mmdet)."""
from .layer_decay import ViTLayerDecayOptimWrapperConstructor
from .simple_fpn import SimpleFeaturePyramid
from .vitdet import ViTDet, ViTDetBlock

__all__ = [
    'ViTDet', 'ViTDetBlock', 'SimpleFeaturePyramid',
    'ViTLayerDecayOptimWrapperConstructor'
]
