"""Curves and logs: TensorBoard by default, W&B by one option, and the
demo's training curves from the same scalars."""
import argparse
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import VISBACKENDS
from mmengine.runner import Runner
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from hpm_mm.cli import setup_train_cfg
from hpm_mm.cli.args import add_common_args
from hpm_mm.visualization import plot_training_curves

from .conftest import ROOT, write_tiny_config

HPM_SCALARS = ('loss_rec', 'loss_pred', 'rank_acc', 'alpha')
CONFIGS = [
    'configs/pretrain/hpm_vit-b.py',
    'configs/pretrain/mae_vit-b.py',
    'configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py',
    'configs/cls/hpm_vit-large-p16_8xb64-coslr-50e_in1k.py',
    'configs/cls/hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py',
    'configs/det/hpm_vit-large-p16_mask-rcnn_8xb8-lsj-100e_coco.py',
    'configs/seg/hpm_vit-large-p16_upernet_8xb2-amp-160k_ade20k-512x512.py',
]


def _backends(cfg):
    return [b['type'] for b in cfg.visualizer.vis_backends]


@pytest.mark.parametrize('rel', CONFIGS)
def test_configs_log_to_tensorboard(rel):
    cfg = Config.fromfile(osp.join(ROOT, rel))
    assert _backends(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']


def test_wandb_is_one_cfg_option():
    """The switch of docs/en/pretraining.md, parsed by the tools' own
    --cfg-options."""
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    args = parser.parse_args(
        ['--cfg-options', 'visualizer.vis_backends.1.type=WandbVisBackend',
         'visualizer.vis_backends.1.init_kwargs.project=hpm'])
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-b.py'))
    cfg.merge_from_dict(args.cfg_options)
    assert _backends(cfg) == ['LocalVisBackend', 'WandbVisBackend']
    assert cfg.visualizer.vis_backends[1].init_kwargs == dict(project='hpm')
    # builds without wandb installed: it is imported at the first log
    VISBACKENDS.build(dict(cfg.visualizer.vis_backends[1], save_dir='x'))


def test_short_run_writes_tensorboard_events_and_curves(tiny_imagenet,
                                                        tmp_path):
    cfg = Config.fromfile(
        write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                          max_epochs=2))
    work = str(tmp_path / 'work')
    setup_train_cfg(cfg, work_dir=work)
    Runner.from_cfg(cfg).train()  # 8 images, batch 4, 2 epochs: 4 iters

    events = glob.glob(osp.join(work, '*', 'vis_data',
                                'events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(osp.dirname(events[0]))
    acc.Reload()
    for key in HPM_SCALARS:
        assert key in acc.Tags()['scalars'], key
        assert [e.step for e in acc.Scalars(key)] == [1, 2, 3, 4], key
    assert acc.Scalars('alpha')[-1].value == pytest.approx(0.5)

    png = plot_training_curves(work, str(tmp_path / 'curves.png'))
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
