"""COCO: ViTDet backbone, simple feature pyramid, layer decay (mmdet).

Needs mmdet and mmcv built with ops; without them importing this package
fails with one line saying what to install.
"""
from .. import require

require('hpm_mm.downstream.det', ('mmdet', 'mmcv.ops'), 'det')

from .layer_decay import ViTLayerDecayOptimWrapperConstructor  # noqa: E402
from .simple_fpn import SimpleFeaturePyramid  # noqa: E402
from .vitdet import ViTDet, ViTDetBlock  # noqa: E402

__all__ = [
    'ViTDet', 'ViTDetBlock', 'SimpleFeaturePyramid',
    'ViTLayerDecayOptimWrapperConstructor'
]
