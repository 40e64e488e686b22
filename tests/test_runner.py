"""Real mmengine Runner training on a tiny ImageNet-format dataset."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from hpm_mm.cli import check_dataset_paths, setup_train_cfg

from .conftest import (ROOT, TINY_IMG, deep_update, load_ckpt,
                       tiny_model_overrides)

CONFIG = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b.py')


def tiny_cfg(data_root: str, work_dir: str, max_epochs: int = 2) -> Config:
    """configs/pretrain/hpm_vit-b.py shrunk to run in seconds on a CPU."""
    cfg = Config.fromfile(CONFIG)
    deep_update(cfg.model, tiny_model_overrides())
    deep_update(
        cfg.train_dataloader,
        dict(
            batch_size=4,
            num_workers=0,
            persistent_workers=False,
            dataset=dict(data_root=data_root)))
    cfg.train_dataloader.dataset.pipeline[1].scale = TINY_IMG
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler[0].end = 1
    cfg.param_scheduler[1].begin = 1
    cfg.param_scheduler[1].T_max = max_epochs - 1
    cfg.param_scheduler[1].end = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.env_cfg.mp_cfg.mp_start_method = 'fork'
    cfg.randomness = dict(seed=0)
    return setup_train_cfg(cfg, work_dir=work_dir, config_path=CONFIG)


def _teacher(state):
    return {k: v for k, v in state.items() if k.startswith('teacher.')}


def test_train_checkpoint_and_resume(tiny_imagenet, tmp_path):
    work = str(tmp_path / 'work')
    cfg = tiny_cfg(tiny_imagenet, work, max_epochs=2)
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # CPU: AMP switched off
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4  # 8 images / batch 4 x 2 epochs
    # logged scalars: both losses, the ranking accuracy and alpha
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_rec', 'train/loss_pred', 'train/rank_acc',
                'train/alpha'):
        assert key in scalars, key
    assert scalars['train/alpha'].current() == pytest.approx(0.5)
    model = runner.model
    assert int(model.teacher.steps) == 4
    # the teacher moved off its initial copy and away from the student
    ckpt1 = load_ckpt(osp.join(work, 'epoch_1.pth'))
    ckpt2 = load_ckpt(osp.join(work, 'epoch_2.pth'))
    t1, t2 = _teacher(ckpt1['state_dict']), _teacher(ckpt2['state_dict'])
    assert int(t2['teacher.steps']) == 4
    key = 'teacher.module.neck.decoder_pred_losspred.weight'
    assert not torch.equal(t1[key], t2[key])
    assert not torch.equal(t2[key],
                           ckpt2['state_dict']['neck.decoder_pred_losspred'
                                               '.weight'])

    # Resume from epoch 1 with weights_only torch.load (the config's
    # CheckpointSafeGlobalsHook allow-list).
    cfg2 = tiny_cfg(tiny_imagenet, work, max_epochs=3)
    cfg2 = setup_train_cfg(cfg2, resume=osp.join(work, 'epoch_1.pth'))
    runner2 = Runner.from_cfg(cfg2)
    runner2.train()
    assert runner2.iter == 6
    assert int(runner2.model.teacher.steps) == 6
    ckpt3 = load_ckpt(osp.join(work, 'epoch_3.pth'))
    assert ckpt3['meta']['epoch'] == 3


def test_missing_data_root(tmp_path):
    cfg = tiny_cfg(str(tmp_path / 'nowhere'), str(tmp_path / 'w'))
    with pytest.raises(FileNotFoundError,
                       match='train_dataloader.dataset.data_root'):
        check_dataset_paths(cfg)


def test_missing_ann_file(tiny_imagenet, tmp_path):
    os.remove(osp.join(tiny_imagenet, 'meta', 'train.txt'))
    cfg = tiny_cfg(tiny_imagenet, str(tmp_path / 'w'))
    cfg.train_dataloader.dataset.ann_file = 'meta/train.txt'
    with pytest.raises(FileNotFoundError,
                       match='train_dataloader.dataset.ann_file does not '
                       'exist: .*meta/train.txt'):
        check_dataset_paths(cfg)


def test_train_tool_reports_missing_data_root(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), CONFIG, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/missing'
    ], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert 'data_root does not exist' in proc.stderr.splitlines()[-1]
