"""Exact resume after SIGKILL, non-finite loss, wrong checkpoints, bad
config values."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from hpm_mm.converters import CheckpointError
from hpm_mm.cli import setup_train_cfg

from .conftest import ROOT, build_tiny_hpm, load_ckpt, write_tiny_config

TRAIN = osp.join(ROOT, 'tools', 'train.py')


def per_iter_losses(work_dir: str, run: int = -1,
                    keys: tuple = ('loss_rec', 'loss_pred')) -> dict:
    """{iter: (loss_rec, loss_pred)} (or ``keys``) of the run-th run in
    work_dir."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    rows = [json.loads(x) for x in open(files[run]) if x.strip()]
    return {r['iter']: tuple(r[k] for k in keys) for r in rows
            if 'loss' in r}


def train_cmd(cfg: str, work: str, *extra) -> list:
    return [sys.executable, TRAIN, cfg, '--work-dir', work, *extra]


def test_resume_after_sigkill_is_exact(tiny_imagenet, tmp_path):
    epochs = 12  # slack: the kill must land before the run ends
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                            max_epochs=epochs)
    env = dict(os.environ, PYTHONPATH=ROOT)
    ref = str(tmp_path / 'ref')
    proc = subprocess.run(train_cmd(cfg, ref), env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = per_iter_losses(ref)
    assert sorted(expected) == list(range(1, 2 * epochs + 1))

    work = str(tmp_path / 'crash')
    victim = subprocess.Popen(train_cmd(cfg, work), env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(osp.join(work, 'epoch_3.pth')):
        assert victim.poll() is None, 'training ended before the kill'
        assert time.time() < deadline
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # every checkpoint under its final name is complete (written, renamed)
    for path in glob.glob(osp.join(work, 'epoch_*.pth')):
        load_ckpt(path)
    proc = subprocess.run(train_cmd(cfg, work, '--resume'), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    resumed = per_iter_losses(work)
    assert resumed, 'the run ended before the kill: nothing was resumed'
    start = min(resumed)
    assert 6 < start < 2 * epochs  # resumed from epoch 3 or later
    assert sorted(resumed) == list(range(start, 2 * epochs + 1))
    for it, (rec, pred) in resumed.items():
        assert rec == pytest.approx(expected[it][0], abs=1e-6), it
        assert pred == pytest.approx(expected[it][1], abs=1e-6), it


class _PoisonAt(Hook):
    """Makes the reconstruction loss NaN from iteration `at` on."""

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            runner.model.head.loss_rec_weight = float('nan')


def _tiny_runner_cfg(tmp_path, data_root, **kw) -> Config:
    cfg = Config.fromfile(
        write_tiny_config(str(tmp_path / 'tiny.py'), data_root, **kw))
    return setup_train_cfg(cfg, work_dir=str(tmp_path / 'work'))


def test_non_finite_loss_stops_with_iteration_and_term(tiny_imagenet,
                                                       tmp_path):
    cfg = _tiny_runner_cfg(tmp_path, tiny_imagenet, max_epochs=3)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_PoisonAt(4))
    with pytest.raises(FloatingPointError,
                       match=r'iteration 4: loss=nan, loss_rec=nan'):
        runner.train()
    work = cfg.work_dir
    assert osp.exists(osp.join(work, 'epoch_1.pth'))
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    ckpt = load_ckpt(osp.join(work, 'epoch_1.pth'))
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())


def test_load_from_wrong_kind_of_checkpoint(tiny_imagenet, tmp_path):
    wrong = {'state_dict': {'backbone.cls_token': torch.zeros(1, 1, 32),
                            'head.fc.weight': torch.zeros(10, 32)}}
    path = str(tmp_path / 'classifier.pth')
    torch.save(wrong, path)
    cfg = _tiny_runner_cfg(tmp_path, tiny_imagenet)
    cfg.load_from = path
    with pytest.raises(CheckpointError,
                       match=f'^{path} does not fit HPM: [0-9]+ keys '
                       'missing .*, 1 unexpected .e.g. head.fc.weight.'):
        Runner.from_cfg(cfg).train()


def test_train_tool_resume_missing_checkpoint(tiny_imagenet, tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet)
    proc = subprocess.run(
        train_cmd(cfg, str(tmp_path / 'w'), '--resume',
                  str(tmp_path / 'nope.pth')),
        env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0
    assert '--resume checkpoint not found' in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize('override,error,match', [
    (dict(masker=dict(alpha_max=1.5)), ValueError, 'alpha_max'),
    (dict(masker=dict(schedul='epoch')), TypeError, 'schedul'),
    (dict(teacher=dict(momentum_start=1.2)), ValueError, 'momentum_start'),
    (dict(teacher=dict(warmup_epochs=-1)), ValueError, 'warmup_epochs'),
    (dict(head=dict(loss_pred=dict(type='LossPredictionLoss',
                                   mode='rank'))), ValueError, 'mode'),
    (dict(head=dict(loss_rec_weight=-1.0)), ValueError, 'loss_rec_weight'),
    (dict(backbone=dict(mask_ratio=1.0)), ValueError, 'mask_ratio'),
])
def test_bad_hpm_config_values(override, error, match):
    with pytest.raises(error, match=match):
        build_tiny_hpm(**override)


def _good_jpeg(tiny_imagenet: str) -> str:
    return sorted(glob.glob(osp.join(tiny_imagenet, 'train', '*',
                                     '*.JPEG')))[0]


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('damage,reason', [
    (lambda b: b[:len(b) // 2], 'JPEG without end-of-image marker'),
    (lambda b: b'not an image at all' * 10, 'cannot be decoded'),
    (lambda b: b'', 'empty file'),
])
def test_corrupt_image_is_named(tiny_imagenet, damage, reason, backend):
    from mmpretrain.registry import TRANSFORMS
    path = _good_jpeg(tiny_imagenet)
    load = TRANSFORMS.build(
        dict(type='CheckedLoadImageFromFile', imdecode_backend=backend))
    assert load(dict(img_path=path))['img'].shape == (48, 48, 3)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(damage(data))
    with pytest.raises(OSError, match=f'corrupt or truncated image: '
                       f'{path} \\({reason}'):
        load(dict(img_path=path))


def test_truncated_image_stops_training_with_its_name(tiny_imagenet,
                                                      tmp_path):
    path = _good_jpeg(tiny_imagenet)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) - 40])
    cfg = _tiny_runner_cfg(tmp_path, tiny_imagenet)
    with pytest.raises(OSError, match=f'corrupt or truncated image: {path}'):
        Runner.from_cfg(cfg).train()
