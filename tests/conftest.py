"""Shared fixtures: tiny HPM models and tiny datasets in real formats
(built by hpm_mm.testing, imported here for the tests)."""
import os
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS

import hpm_mm  # noqa: F401
from hpm_mm.testing import (ARCH, IMG, PATCH, deep_update,  # noqa: F401
                            tiny_hpm_cfg, tiny_model_overrides,
                            write_imagenet)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# hpm_mm.testing's tiny ViT, under the names the pre-training tests use
TINY_ARCH, TINY_IMG, TINY_PATCH = ARCH, IMG, PATCH


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


def build_tiny_hpm(seed: int = 0, distinct_teacher: bool = False,
                   **overrides):
    """An initialised tiny HPM (:func:`tiny_hpm_cfg` with ``overrides``).

    A constant mined fraction (``fixed_alpha`` or ``ramp='none'``) is set
    when the masker is built. With ``distinct_teacher`` the teacher is perturbed away
    from the student (as after training), so tests can tell them apart.
    """
    torch.manual_seed(seed)
    model = MODELS.build(tiny_hpm_cfg(**overrides))
    model.init_weights()
    if distinct_teacher:
        with torch.no_grad():  # state_dict() tensors share storage
            for t in model.teacher.module.state_dict().values():
                if t.is_floating_point():
                    t.add_(0.05 * torch.randn_like(t))
    return model


@pytest.fixture
def tiny_imagenet(tmp_path) -> str:
    return write_imagenet(str(tmp_path / 'imagenet'))


def start_iteration(model, message_hub) -> None:
    """What a training forward does first: advance the masker's alpha_t to
    the hub's progress."""
    model.masker.update_alpha(message_hub)


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
                      max_epochs: int = 2) -> str:
    """A config file inheriting configs/pretrain/hpm_vit-b.py, shrunk to
    hpm_mm.testing's tiny model."""
    base = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b.py')
    model = tiny_model_overrides()
    model['backbone']['arch'] = dict(model['backbone']['arch'],
                                     _delete_=True)  # base arch is 'b'
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.format(base=base, model=model,
                                   data_root=data_root,
                                   batch_size=batch_size,
                                   max_epochs=max_epochs, size=IMG))
    return path
