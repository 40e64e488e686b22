"""Tiny models, checkpoints and datasets (in the real formats) for tests."""
import argparse
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image, ImageDraw

from ..conftest import ROOT

# Tiny encoder: 4 blocks (mmseg's UperNet wants 4 feature levels), 64 px
# images with 16 px patches -> 4 x 4 = 16 patches.
ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
IMG, PATCH = 64, 16
GRID = IMG // PATCH


def hpm_cfg(fixed_alpha=None) -> dict:
    """Config of a tiny :class:`HPM` (decoder 16 wide, 1 block/branch)."""
    return dict(
        type='HPM',
        backbone=dict(
            type='HPMViT', arch=ARCH, img_size=IMG, patch_size=PATCH),
        neck=dict(
            type='HPMDecoder',
            num_patches=GRID * GRID,
            patch_size=PATCH,
            embed_dim=ARCH['embed_dims'],
            decoder_embed_dim=16,
            decoder_depth=1,
            decoder_num_heads=2),
        head=dict(type='HPMHead', patch_size=PATCH),
        masker=dict(type='HardPatchMasker', fixed_alpha=fixed_alpha))


def build_hpm(seed: int = 0, fixed_alpha=None, distinct_teacher=True):
    """A randomly initialised tiny HPM.

    With ``distinct_teacher`` the teacher is perturbed away from the student
    (as after real training), so tests can tell them apart.
    """
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(hpm_cfg(fixed_alpha))
    model.init_weights()
    if distinct_teacher:
        with torch.no_grad():  # state_dict() tensors share storage
            for t in model.teacher.module.state_dict().values():
                if t.is_floating_point():
                    t.add_(0.05 * torch.randn_like(t))
    return model


def save_hpm_checkpoint(model, path: str) -> str:
    """Save like mmengine's CheckpointHook: ``meta``, ``state_dict``,
    ``message_hub`` (with ``HistoryBuffer`` objects and numpy scalars),
    ``optimizer``."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance(f'hpm_ckpt_{os.urandom(4).hex()}')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('epoch', 800)
    torch.save(
        dict(
            meta=dict(epoch=800, iter=1000, seed=np.int64(0)),
            state_dict={k: v.clone()
                        for k, v in model.state_dict().items()},
            message_hub=hub.state_dict(),
            optimizer=dict(state={}, param_groups=[])), path)
    return path


def _timm_blocks(prefix: str, layers, out: Dict) -> None:
    for i, layer in enumerate(layers):
        parts = {
            'norm1': layer.ln1,
            'attn.qkv': layer.attn.qkv,
            'attn.proj': layer.attn.proj,
            'norm2': layer.ln2,
            'mlp.fc1': layer.ffn.layers[0][0],
            'mlp.fc2': layer.ffn.layers[1],
        }
        for name, mod in parts.items():
            out[f'{prefix}.{i}.{name}.weight'] = mod.weight
            out[f'{prefix}.{i}.{name}.bias'] = mod.bias


def timm_state(backbone, neck) -> Dict[str, torch.Tensor]:
    """The released (timm/MAE) state dict of an encoder + decoder.

    Written from the modules themselves, not from any key map, so the
    converter is tested against an independent naming.
    """
    out = {
        'cls_token': backbone.cls_token,
        'pos_embed': backbone.pos_embed,
        'patch_embed.proj.weight': backbone.patch_embed.projection.weight,
        'patch_embed.proj.bias': backbone.patch_embed.projection.bias,
        'norm.weight': backbone.ln1.weight,
        'norm.bias': backbone.ln1.bias,
        'mask_token': neck.mask_token,
        'decoder_pos_embed': neck.decoder_pos_embed,
        'decoder_embed.weight': neck.decoder_embed.weight,
        'decoder_embed.bias': neck.decoder_embed.bias,
        'decoder_norm.weight': neck.decoder_norm.weight,
        'decoder_norm.bias': neck.decoder_norm.bias,
        'decoder_pred.weight': neck.decoder_pred.weight,
        'decoder_pred.bias': neck.decoder_pred.bias,
        'decoder_norm_losspred.weight': neck.decoder_norm_losspred.weight,
        'decoder_norm_losspred.bias': neck.decoder_norm_losspred.bias,
        'decoder_pred_losspred.weight': neck.decoder_pred_losspred.weight,
        'decoder_pred_losspred.bias': neck.decoder_pred_losspred.bias,
    }
    _timm_blocks('blocks', backbone.layers, out)
    _timm_blocks('decoder_blocks', neck.decoder_blocks, out)
    _timm_blocks('decoder_blocks_losspred', neck.decoder_blocks_losspred,
                 out)
    return {k: v.detach().clone() for k, v in out.items()}


def released_checkpoint(model, with_ema: bool = True,
                        prefix: str = 'module.') -> dict:
    """A checkpoint laid out like the authors' release (HPM_SPEC 7)."""
    ckpt = dict(
        state_dict={
            prefix + k: v
            for k, v in timm_state(model.backbone, model.neck).items()
        },
        optimizer=dict(state={}, param_groups=[]),
        epoch=799,
        model='hpm_vit_tiny_patch16',
        amp_scaler=dict(scale=65536.0, growth_factor=2.0),
        args=argparse.Namespace(mask_ratio=0.75, epochs=800))
    if with_ema:
        t = model.teacher.module
        ckpt['ema_state_dict'] = {
            prefix + k: v
            for k, v in timm_state(t.backbone, t.neck).items()
        }
    return ckpt


def load_tool(name: str = 'convert_checkpoint'):
    """Import ``tools/<name>.py`` as a module."""
    path = osp.join(ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'hpm_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convert(src: str, dst: str, to: str, *extra: str) -> str:
    """Run the converter CLI in-process; assert success."""
    rc = load_tool().main([src, dst, '--to', to, *extra])
    assert rc == 0, f'convert_checkpoint failed for --to {to}'
    return dst


def config(rel_path: str) -> Config:
    """Load a repo config (custom imports processed)."""
    return Config.fromfile(osp.join(ROOT, rel_path))


# ----------------------------------------------------------------- data --
def _smooth_image(rng, h: int, w: int) -> np.ndarray:
    low = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC))


def write_imagenet(root: str, per_class: int = 4, num_classes: int = 2,
                   size: int = 80, seed: int = 0) -> str:
    """ImageNet layout: {train,val}/<wnid>/*.JPEG and meta/{train,val}.txt.

    Labels are ImageNet class indices 0..num_classes-1 of mmpretrain's
    1000-class list.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, n in (('train', per_class), ('val', max(1, per_class // 2))):
        lines = []
        for c in range(num_classes):
            wnid = f'n{c:08d}'
            os.makedirs(osp.join(root, split, wnid), exist_ok=True)
            for i in range(n):
                name = f'{wnid}/{split}_{c}_{i}.JPEG'
                Image.fromarray(_smooth_image(rng, size, size)).save(
                    osp.join(root, split, name), quality=90)
                lines.append(f'{name} {c}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def _coco_split(root: str, split: str, n: int, rng, categories: List[dict],
                width: int, height: int) -> None:
    folder = osp.join(root, f'{split}2017')
    os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        img = Image.fromarray(_smooth_image(rng, height, width))
        draw = ImageDraw.Draw(img)
        for j in range(2):
            x0 = int(rng.integers(2, width // 2))
            y0 = int(rng.integers(2, height // 2))
            w = int(rng.integers(16, width // 2))
            h = int(rng.integers(16, height // 2))
            # a quadrilateral polygon, drawn in a flat colour
            poly = [x0, y0, x0 + w, y0 + 2, x0 + w - 3, y0 + h, x0 + 1,
                    y0 + h - 2]
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.polygon(poly, fill=colour)
            xs, ys = poly[0::2], poly[1::2]
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=i + 1,
                    category_id=categories[j]['id'],
                    segmentation=[[float(v) for v in poly]],
                    area=float(w * h) * 0.9,
                    bbox=[
                        float(min(xs)),
                        float(min(ys)),
                        float(max(xs) - min(xs)),
                        float(max(ys) - min(ys))
                    ],
                    iscrowd=0))
        name = f'{i + 1:012d}.jpg'
        img.save(osp.join(folder, name), quality=95)
        images.append(
            dict(id=i + 1, file_name=name, width=width, height=height))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'instances_{split}2017.json'),
              'w') as f:
        json.dump(
            dict(
                info=dict(description='tiny COCO for tests'),
                licenses=[],
                images=images,
                annotations=annotations,
                categories=categories), f)


def write_coco(root: str, n_train: int = 4, n_val: int = 2,
               width: int = 128, height: int = 96, seed: int = 0) -> str:
    """COCO layout: {train,val}2017/*.jpg + annotations/instances_*.json.

    All 80 COCO categories are declared; two per image are annotated with
    polygon masks.
    """
    from mmdet.datasets import CocoDataset
    categories = [
        dict(id=i + 1, name=name, supercategory='thing')
        for i, name in enumerate(CocoDataset.METAINFO['classes'])
    ]
    rng = np.random.default_rng(seed)
    _coco_split(root, 'train', n_train, rng, categories, width, height)
    _coco_split(root, 'val', n_val, rng, categories, width, height)
    return root


def write_ade20k(root: str, n_train: int = 4, n_val: int = 2,
                 width: int = 96, height: int = 64, seed: int = 0) -> str:
    """ADEChallengeData2016 layout: images/ and annotations/ per split.

    Annotations are 8-bit PNGs with 0 = other and 1..150 the classes.
    """
    rng = np.random.default_rng(seed)
    for split, n, tag in (('training', n_train, 'train'),
                          ('validation', n_val, 'val')):
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(n):
            name = f'ADE_{tag}_{i + 1:08d}'
            img = _smooth_image(rng, height, width)
            seg = np.zeros((height, width), np.uint8)
            for _ in range(3):
                y, x = rng.integers(0, height - 8), rng.integers(0, width - 8)
                seg[y:y + 24, x:x + 32] = rng.integers(1, 151)
            Image.fromarray(img).save(
                osp.join(root, 'images', split, name + '.jpg'), quality=95)
            Image.fromarray(seg).save(
                osp.join(root, 'annotations', split, name + '.png'))
    return root


def no_workers(cfg: Config) -> None:
    """Load data in the main process (tests)."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].num_workers = 0
            cfg[key].persistent_workers = False


# ------------------------------------------------- tiny config overrides --
def _set_in_pipeline(pipeline, type_name: str, **kwargs) -> None:
    hits = [t for t in pipeline if t['type'] == type_name]
    assert hits, f'{type_name} not in pipeline'
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
