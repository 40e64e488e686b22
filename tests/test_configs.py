"""Every pretraining config resolves its _base_ and builds its model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

from .conftest import ROOT, deep_update, tiny_model_overrides

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'pretrain', '*.py')))
DEMO = 'hpm_vit-demo_cpu.py'


def test_configs_found():
    names = {osp.basename(c) for c in CONFIGS}
    assert {'hpm_vit-b.py', 'hpm_vit-b_200e.py', 'hpm_vit-l.py',
            'mae_vit-b.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_resolves_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['hpm_mm']
    # fp16 AMP, but fp32 in the CPU demo (any entry point, e.g. `mim train`)
    assert cfg.optim_wrapper.type == ('OptimWrapper' if osp.basename(path)
                                      == DEMO else 'AmpOptimWrapper')
    assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
    assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95)
    assert cfg.optim_wrapper.paramwise_cfg == dict(flat_decay_mult=0.0)
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert pipeline == [
        'CheckedLoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
        'PackInputs'
    ]
    if osp.basename(path) != DEMO:  # the paper's recipe
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 8)
        assert cfg.train_dataloader.batch_size * 8 == 2048
        assert cfg.auto_scale_lr.base_batch_size == 2048
        sched = cfg.param_scheduler
        assert sched[0].end == 40 and sched[1].end == cfg.train_cfg.max_epochs
    for hook in ('NonFiniteLossHook', 'CheckpointKeysHook', 'RNGStateHook'):
        assert dict(type=hook) in cfg.custom_hooks
    if cfg.model.type == 'HPM':
        assert dict(type='HPMTeacherHook') in cfg.custom_hooks
        if osp.basename(path) != DEMO:
            deep_update(cfg.model, tiny_model_overrides())
    else:
        tiny = tiny_model_overrides()
        deep_update(cfg.model, dict(backbone=tiny['backbone'],
                                    neck=tiny['neck'], head=tiny['head']))
    model = MODELS.build(cfg.model)
    model.init_weights()


def test_recipes():
    b = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-b.py'))
    assert b.train_cfg.max_epochs == 800 and b.model.backbone.arch == 'b'
    assert b.model.head.norm_pix is False
    assert b.model.masker.alpha_max == 0.5
    short = Config.fromfile(
        osp.join(ROOT, 'configs/pretrain/hpm_vit-b_200e.py'))
    assert short.train_cfg.max_epochs == 200
    assert short.param_scheduler[1].T_max == 160
    large = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-l.py'))
    assert large.model.backbone.arch == 'l'
    assert large.model.neck.embed_dim == 1024
    mae = Config.fromfile(osp.join(ROOT, 'configs/pretrain/mae_vit-b.py'))
    assert mae.model.type == 'MAE' and mae.model.head.norm_pix is False
    assert mae.optim_wrapper == b.optim_wrapper
