"""Tiny HPM models and the repository's configs shrunk to them.

The recipes (optimizers, schedules, pipelines, data formats) are kept; only
widths, depths and image sizes change, so every config runs on the CPU in
seconds.
"""
import copy
import os.path as osp

from mmengine.config import Config

# The tiny ViT of every test and rehearsal: 4 blocks (mmseg's UperNet wants
# 4 feature levels), 64 px images with 16 px patches -> 4 x 4 = 16 patches.
ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
IMG, PATCH = 64, 16
GRID = IMG // PATCH


def deep_update(target: dict, overrides: dict) -> dict:
    """Recursively merge ``overrides`` into the (Config)dict ``target``."""
    for key, val in overrides.items():
        if isinstance(val, dict) and isinstance(target.get(key), dict):
            deep_update(target[key], val)
        else:
            target[key] = val
    return target


def tiny_model_overrides() -> dict:
    """What shrinks a pre-training config's model to :data:`ARCH` at
    :data:`IMG` px (``deep_update(cfg.model, tiny_model_overrides())``)."""
    return dict(
        backbone=dict(arch=dict(ARCH), img_size=IMG, patch_size=PATCH),
        neck=dict(
            num_patches=GRID * GRID,
            patch_size=PATCH,
            embed_dim=ARCH['embed_dims'],
            decoder_embed_dim=16,
            decoder_depth=2,
            decoder_num_heads=2),
        head=dict(patch_size=PATCH))


def tiny_hpm_cfg(**overrides) -> dict:
    """The tiny HPM's model config; a dict override updates that part."""
    cfg = dict(
        type='HPM',
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True),
        masker=dict(type='HardPatchMasker'),
        teacher=dict(type='HPMTeacherEMA'))
    parts = tiny_model_overrides()
    for key, type_name in (('backbone', 'HPMViT'), ('neck', 'HPMDecoder'),
                           ('head', 'HPMHead')):
        cfg[key] = dict(type=type_name, **parts[key])
    for key, val in overrides.items():
        if isinstance(val, dict) and isinstance(cfg.get(key), dict):
            val = {**cfg[key], **val}
        cfg[key] = val
    return copy.deepcopy(cfg)


def no_workers(cfg: Config) -> None:
    """Load data in the main process (tests)."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].num_workers = 0
            cfg[key].persistent_workers = False


def _set_in_pipeline(pipeline, type_name: str, **kwargs) -> None:
    hits = [t for t in pipeline if t['type'] == type_name]
    if not hits:
        raise ValueError(f'{type_name} is not in the pipeline')
    for t in hits:
        t.update(kwargs)


def shrink_cls(cfg: Config, ckpt: str, data_root: str = None) -> Config:
    """Tiny model/image sizes for a configs/cls config (recipe kept)."""
    bb = cfg.model.backbone
    bb.update(arch=ARCH, img_size=IMG, patch_size=PATCH)
    bb.init_cfg.checkpoint = ckpt
    if bb.get('frozen_stages'):
        bb.frozen_stages = ARCH['num_layers']
    if cfg.model.get('neck'):
        cfg.model.neck.input_features = ARCH['embed_dims']
    cfg.model.head.in_channels = ARCH['embed_dims']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        for t in pipeline:
            if t['type'] == 'RandomResizedCrop':
                t['scale'] = IMG
            elif t['type'] == 'ResizeEdge':
                t['scale'] = IMG * 8 // 7
            elif t['type'] == 'CenterCrop':
                t['crop_size'] = IMG
        cfg[key].batch_size = 4
        if data_root:
            cfg[key].dataset.data_root = data_root
    return cfg


DET_SIZE = 128  # 8 x 8 patches: 2 x 2 windows of 4, pretraining grid 4 x 4


def shrink_det(cfg: Config, ckpt: str, data_root: str = None) -> Config:
    """Tiny sizes for a configs/det config (recipe and data format kept)."""
    width, size = ARCH['embed_dims'], (DET_SIZE, DET_SIZE)
    m = cfg.model
    m.data_preprocessor.pad_size_divisor = DET_SIZE
    m.backbone.update(
        arch=dict(ARCH, global_attn_indexes=(1, 3)),
        img_size=size,
        pretrain_img_size=IMG,
        patch_size=PATCH,
        window_size=4)
    m.backbone.init_cfg.checkpoint = ckpt
    m.neck.update(in_channels=width, out_channels=width)
    m.rpn_head.update(in_channels=width, feat_channels=width)
    roi = m.roi_head
    roi.bbox_roi_extractor.out_channels = width
    roi.mask_roi_extractor.out_channels = width
    roi.bbox_head.update(
        in_channels=width, conv_out_channels=width, fc_out_channels=64)
    roi.mask_head.update(in_channels=width, conv_out_channels=width)
    train_set = cfg.train_dataloader.dataset.dataset
    _set_in_pipeline(train_set.pipeline, 'RandomResize', scale=size)
    _set_in_pipeline(train_set.pipeline, 'RandomCrop', crop_size=size)
    for key in ('val_dataloader', 'test_dataloader'):
        _set_in_pipeline(cfg[key].dataset.pipeline, 'Resize', scale=size)
    cfg.train_dataloader.batch_size = 2
    if data_root:
        train_set.data_root = data_root
        for key in ('val_dataloader', 'test_dataloader'):
            cfg[key].dataset.data_root = data_root
        for key in ('val_evaluator', 'test_evaluator'):
            cfg[key].ann_file = osp.join(data_root, 'annotations',
                                         'instances_val2017.json')
    return cfg


SEG_CROP = (96, 96)  # 6 x 6 patches: the 4 x 4 pretraining grid is resized


def shrink_seg(cfg: Config, ckpt: str, data_root: str = None) -> Config:
    """Tiny sizes for a configs/seg config (recipe and data format kept)."""
    width = ARCH['embed_dims']
    m = cfg.model
    m.data_preprocessor.size = SEG_CROP
    m.backbone.update(
        img_size=SEG_CROP,
        patch_size=PATCH,
        embed_dims=width,
        num_layers=ARCH['num_layers'],
        num_heads=ARCH['num_heads'],
        mlp_ratio=ARCH['feedforward_channels'] // width,
        out_indices=[0, 1, 2, 3])
    m.backbone.init_cfg.checkpoint = ckpt
    m.neck.embed_dim = width
    m.decode_head.update(in_channels=[width] * 4, channels=width)
    m.auxiliary_head.update(in_channels=width, channels=16)
    m.test_cfg.update(crop_size=SEG_CROP, stride=(64, 64))
    cfg.optim_wrapper.paramwise_cfg.num_layers = ARCH['num_layers']
    wide = (SEG_CROP[0] * 4, SEG_CROP[1])
    _set_in_pipeline(cfg.train_dataloader.dataset.pipeline, 'RandomResize',
                     scale=wide)
    _set_in_pipeline(cfg.train_dataloader.dataset.pipeline, 'RandomCrop',
                     crop_size=SEG_CROP)
    for key in ('val_dataloader', 'test_dataloader'):
        _set_in_pipeline(cfg[key].dataset.pipeline, 'Resize', scale=wide)
    if data_root:
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].dataset.data_root = data_root
    return cfg
