"""Each downstream config trains and evaluates with mmengine's Runner.

Real configs with tiny sizes (model widths, image sizes, data roots,
epochs/iterations), datasets written in their real on-disk formats, and
the real metrics; the encoder comes from a tiny HPM checkpoint (directly
or converted by tools/convert_checkpoint.py).
"""
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from hpm_mm.cli import setup_train_cfg
from hpm_mm.testing import (no_workers, shrink_cls, shrink_det, shrink_seg,
                            write_ade20k, write_coco, write_imagenet)

from .helpers import config, convert


def _run(cfg, work_dir: str) -> tuple:
    """Train as tools/train.py would (validating at the end).

    Returns:
        tuple: The runner and the metrics of its last validation.
    """
    no_workers(cfg)
    setup_train_cfg(cfg, work_dir=work_dir)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {
        k[len('val/'):]: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('val/') and k not in ('val/time', 'val/data_time')
    }
    return runner, metrics


def _backbone(runner):
    return runner.model.backbone.state_dict()


@pytest.mark.parametrize('name, source', [
    ('hpm_vit-base-p16_8xb48-coslr-100e_in1k.py', 'teacher'),
    ('hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py', 'student'),
])
def test_classification(tmp_path, hpm_model, hpm_ckpt, name, source):
    root = write_imagenet(str(tmp_path / 'imagenet'))
    if source == 'teacher':  # via the converter, EMA teacher's encoder
        ckpt = convert(hpm_ckpt, str(tmp_path / 'cls.pth'), 'mmpretrain',
                       '--source', 'teacher')
        encoder = hpm_model.teacher.module.backbone
    else:  # the pretraining checkpoint itself, prefix 'backbone.'
        ckpt, encoder = hpm_ckpt, hpm_model.backbone
    cfg = shrink_cls(config(f'configs/cls/{name}'), ckpt, root)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    runner, metrics = _run(cfg, str(tmp_path / 'work'))

    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
    assert all(0.0 <= v <= 100.0 for v in metrics.values())
    assert runner.iter == 2  # 8 images, batch 4
    want = encoder.state_dict()['layers.1.attn.qkv.weight']
    got = _backbone(runner)['layers.1.attn.qkv.weight']
    if 'linear' in name:  # frozen encoder: exactly the pretrained one
        assert torch.equal(got, want)
    else:  # two tiny warm-up steps from the teacher's weights
        assert torch.allclose(got, want, atol=1e-3)
        student = hpm_model.backbone.state_dict()['layers.1.attn.qkv.weight']
        assert not torch.allclose(got, student, atol=1e-2)


def test_coco_mask_rcnn(tmp_path, hpm_ckpt):
    root = write_coco(str(tmp_path / 'coco'))
    ckpt = convert(hpm_ckpt, str(tmp_path / 'det.pth'), 'mmdet')
    cfg = shrink_det(
        config('configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py'),
        ckpt, root)
    cfg.train_dataloader.dataset.times = 1
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    # An untrained 81-way classifier scores ~1/81 < mmdet's 0.05 threshold;
    # keep every detection so that the COCO evaluation has something to
    # score.
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    runner, metrics = _run(cfg, str(tmp_path / 'work'))

    assert runner.iter == 2  # 4 images, batch 2
    assert set(metrics) == {
        f'coco/{kind}_mAP{sub}'
        for kind in ('bbox', 'segm')
        for sub in ('', '_50', '_75', '_s', '_m', '_l')
    }
    for kind in ('bbox', 'segm'):
        for key in ('mAP', 'mAP_50', 'mAP_75'):
            assert 0.0 <= metrics[f'coco/{kind}_{key}'] <= 1.0
    pos = _backbone(runner)['pos_embed']
    assert pos.shape == (1, 4, 4, 32)  # the pretraining grid is kept
    ckpt_pos = torch.load(ckpt, weights_only=True)['state_dict'][
        'backbone.pos_embed']
    assert torch.allclose(pos, ckpt_pos, atol=1e-3)


def test_ade20k_upernet(tmp_path, hpm_model, released_ckpt):
    """From the authors' format, converted to an hpm_mm checkpoint, which
    CheckedMAE reads directly."""
    root = write_ade20k(str(tmp_path / 'ade'), width=128, height=96)
    ckpt = convert(released_ckpt, str(tmp_path / 'hpm.pth'), 'hpm')
    cfg = shrink_seg(
        config('configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-'
               '512x512.py'), ckpt, root)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    runner, metrics = _run(cfg, str(tmp_path / 'work'))

    assert runner.iter == 2
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    assert 0.0 <= metrics['mIoU'] <= 100.0
    assert osp.isfile(osp.join(str(tmp_path / 'work'), 'iter_2.pth'))
    want = hpm_model.backbone.state_dict()['layers.2.ffn.layers.1.weight']
    got = _backbone(runner)['layers.2.ffn.layers.1.weight']
    assert torch.allclose(got, want, atol=1e-3)  # 2 warm-up steps
