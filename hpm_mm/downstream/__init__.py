"""Downstream benchmarks of HPM encoders.

``import hpm_mm`` needs only mmpretrain's stack, so the pieces that need
mmdet or mmseg live in their own packages, which the det/seg configs
import through ``custom_imports``:

- ``hpm_mm.downstream.det`` registers, in mmdet's registries, the ViTDet
  backbone, the simple feature pyramid and the layer-decay optimizer
  constructor (needs mmdet and mmcv with ops);
- ``hpm_mm.downstream.seg`` registers, in mmseg's, the checked MAE
  backbone (needs mmsegmentation and mmcv with ops).

Either fails with a one-line ``ImportError`` naming the missing package
when its library is not installed. Classification needs nothing new:
mmpretrain's ``VisionTransformer`` loads the ``backbone.*`` of an HPM
checkpoint as is. This package itself only holds the checked loading of
pretrained weights that both use.
"""
from .weights import is_pretrained, load_pretrained

__all__ = ['is_pretrained', 'load_pretrained']
