"""Tiny model configs, data and configs for tests and rehearsals (like
``mmdet.testing``). Not imported by ``import hpm_mm``."""
from .configs import (ARCH, DET_SIZE, GRID, IMG, PATCH, SEG_CROP,
                      deep_update, no_workers, shrink_cls, shrink_det,
                      shrink_seg, tiny_hpm_cfg, tiny_model_overrides)
from .data import write_ade20k, write_coco, write_imagenet

__all__ = [
    'ARCH', 'DET_SIZE', 'GRID', 'IMG', 'PATCH', 'SEG_CROP', 'deep_update',
    'no_workers', 'shrink_cls', 'shrink_det', 'shrink_seg', 'tiny_hpm_cfg',
    'tiny_model_overrides', 'write_ade20k', 'write_coco', 'write_imagenet'
]
