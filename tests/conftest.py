"""Shared fixtures: tiny HPM models and tiny datasets in real formats."""
import copy
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from PIL import Image

import hpm_mm  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TINY_IMG, TINY_PATCH = 32, 8  # L = 16 patches, M = 12 masked


def tiny_hpm_cfg(**overrides) -> dict:
    """A tiny HPM model config (ViT 32-wide, 2 layers, 32 px, patch 8)."""
    cfg = dict(
        type='HPM',
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True),
        backbone=dict(
            type='HPMViT',
            arch=TINY_ARCH,
            img_size=TINY_IMG,
            patch_size=TINY_PATCH,
            mask_ratio=0.75),
        neck=dict(
            type='HPMDecoder',
            num_patches=(TINY_IMG // TINY_PATCH)**2,
            patch_size=TINY_PATCH,
            embed_dim=32,
            decoder_embed_dim=16,
            decoder_depth=2,
            decoder_num_heads=2),
        head=dict(type='HPMHead', patch_size=TINY_PATCH),
        masker=dict(type='HardPatchMasker'),
        teacher=dict(type='HPMTeacherEMA'))
    for key, val in overrides.items():
        if isinstance(val, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **val}
        else:
            cfg[key] = val
    return copy.deepcopy(cfg)


def tiny_model_overrides(size: int = TINY_IMG, patch: int = TINY_PATCH,
                         arch: dict = TINY_ARCH) -> dict:
    """Overrides that shrink a full pretrain config's model."""
    return dict(
        backbone=dict(arch=arch, img_size=size, patch_size=patch),
        neck=dict(
            num_patches=(size // patch)**2,
            patch_size=patch,
            embed_dim=arch['embed_dims'],
            decoder_embed_dim=16,
            decoder_depth=1,
            decoder_num_heads=2),
        head=dict(patch_size=patch))


def outside_a_runner():
    """What a Runner's CheckpointSafeGlobalsHook does, for code that loads
    a training checkpoint through mmengine outside a Runner (a module's
    ``init_cfg`` in ``init_weights()``), as users must do too."""
    from hpm_mm.converters import mmengine_safe_globals
    from hpm_mm.converters.safe_globals import allowed_globals
    return allowed_globals(mmengine_safe_globals())


def pythonpath_with_sitecustomize(folder, source: str) -> str:
    """A child's ``PYTHONPATH`` that runs ``source`` at its start-up.

    Test-only fault injection (a full disk, a killed job): ``source`` is
    written to ``folder/inject/sitecustomize.py``, which Python imports in
    every process started with the returned path, before the repository.
    """
    inject = osp.join(str(folder), 'inject')
    os.makedirs(inject)
    with open(osp.join(inject, 'sitecustomize.py'), 'w') as f:
        f.write(source)
    return f'{inject}{os.pathsep}{ROOT}'


def load_ckpt(path) -> dict:
    """``torch.load(weights_only=True)`` of an mmengine checkpoint (message
    hub, numpy meta), with hpm_mm's allow-list for this call only."""
    from hpm_mm.converters import mmengine_safe_globals
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture
def message_hub():
    """A MessageHub with training progress, reset for each test."""
    # get_current_instance() returns the most recently created instance.
    return MessageHub.get_instance(f'hpm_test_{os.urandom(6).hex()}')


def set_progress(hub: MessageHub, epoch: int = 0, max_epochs: int = 10,
                 it: int = 0, max_iters: int = 100) -> None:
    hub.update_info('epoch', epoch)
    hub.update_info('max_epochs', max_epochs)
    hub.update_info('iter', it)
    hub.update_info('max_iters', max_iters)


def write_imagenet(root: str, num_classes: int = 2, per_class: int = 4,
                   size: int = 48, seed: int = 0) -> str:
    """Write a tiny ImageNet-format split: train/<class>/*.JPEG + meta file.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for c in range(num_classes):
        wnid = f'n{c:08d}'
        folder = osp.join(root, 'train', wnid)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            # smooth random images: low-frequency noise upsampled
            low = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            img = Image.fromarray(low).resize((size, size), Image.BICUBIC)
            name = f'{wnid}_{i}.JPEG'
            img.save(osp.join(folder, name), quality=90)
            lines.append(f'{wnid}/{name} {c}')
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return root


@pytest.fixture
def tiny_imagenet(tmp_path) -> str:
    return write_imagenet(str(tmp_path / 'imagenet'))


def build_tiny_hpm(**overrides):
    """A tiny initialised HPM (a constant alpha_t, ``fixed_alpha`` or
    ``ramp='none'``, is set at construction)."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(tiny_hpm_cfg(**overrides))
    model.init_weights()
    return model


def start_iteration(model, message_hub) -> None:
    """What a training forward does first: advance the masker's alpha_t to
    the hub's progress."""
    model.masker.update_alpha(message_hub)


def deep_update(target: dict, overrides: dict) -> dict:
    """Recursively merge ``overrides`` into the (Config)dict ``target``."""
    for key, val in overrides.items():
        if isinstance(val, dict) and isinstance(target.get(key), dict):
            deep_update(target[key], val)
        else:
            target[key] = val
    return target


TINY_CONFIG = '''
_base_ = [{base!r}]
model = {model!r}
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, pipeline=[
        dict(type='CheckedLoadImageFromFile', imdecode_backend='pillow',
                 color_type='color_ignore_orientation'),
        dict(type='RandomResizedCrop', scale={size},
             crop_ratio_range=(0.2, 1.0),
             backend='pillow', interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs')]))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95),
                   weight_decay=0.05),
    clip_grad=dict(max_norm=5.0), paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max={max_epochs} - 1, by_epoch=True,
         begin=1, end={max_epochs}, convert_to_iter_based=True)]
train_cfg = dict(max_epochs={max_epochs})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(max_keep_ckpts=-1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
log_processor = dict(window_size=1, num_digits=10)
'''


def write_tiny_config(path: str, data_root: str, batch_size: int = 4,
                      max_epochs: int = 2, size: int = TINY_IMG,
                      patch: int = TINY_PATCH, arch: dict = TINY_ARCH) -> str:
    """A config file inheriting configs/pretrain/hpm_vit-b.py, shrunk
    (to ``arch`` at ``size`` px with ``patch`` px patches)."""
    base = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b.py')
    model = tiny_model_overrides(size, patch, arch)
    model['backbone']['arch'] = dict(model['backbone']['arch'],
                                     _delete_=True)  # base arch is 'b'
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.format(base=base, model=model,
                                   data_root=data_root,
                                   batch_size=batch_size,
                                   max_epochs=max_epochs, size=size))
    return path
