"""End to end on tiny real videos: VideoMAE and VideoHPM pre-training through
``tools/train.py`` from the Kinetics-400 configs (shrunk to the tiny ViT),
an exact resume, ``--to mmaction``, and one fine-tuning epoch through
mmaction2's own ``tools/train.py`` from the converted encoder."""
import math
import os
import os.path as osp
import subprocess
import sys

import mmaction
import pytest
import torch

from hpm_mm.converters import read_checkpoint, take_prefix
from hpm_mm.testing.video import write_kinetics

from ..conftest import ROOT, load_ckpt
from ..downstream.helpers import convert
from ..test_reliability import per_iter_losses, train_cmd
from .tiny_video import (ACTION_CONFIGS, FRAMES, IMG, PRETRAIN_CONFIGS,
                         tiny_action_model, tiny_pretrain_model)

MMACTION_TRAIN = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools',
                          'train.py')
#: 4 training videos, 2 per batch: 2 iterations per epoch.
BATCH = 2

PRETRAIN = '''
_base_ = [{base!r}]
model = {model!r}
train_pipeline = [
    dict(type='mmaction.CheckedDecordInit'),
    dict(type='mmaction.SampleFrames', clip_len={frames}, frame_interval=2,
         num_clips=1, out_of_bound_opt='repeat_last'),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.MultiScaleCrop', input_size={size},
         scales=(1, 0.875, 0.75, 0.66), random_crop=False,
         max_wh_scale_gap=1, num_fixed_crops=13),
    dict(type='mmaction.Resize', scale=({size}, {size}), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='PackInputs', input_key='imgs'),
]
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    pin_memory=False, dataset=dict(data_root={data!r},
                                   pipeline=train_pipeline))
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(max_keep_ckpts=-1))
log_processor = dict(window_size=1, num_digits=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
'''

FINETUNE = '''
_base_ = [{base!r}]
model = {model!r}
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len={frames}, frame_interval=2,
         num_clips=1),
    dict(type='DecordDecode'),
    {{{{_base_.rand_augment}}}},
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0),
         aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=({size}, {size}), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    {{{{_base_.random_erasing}}}},
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file={ann!r}, data_prefix=dict(video={videos!r}),
                 pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
'''


def _k400(paths):
    (path, ) = [p for p in paths if 'kinetics400' in p or 'k400' in p]
    return path


def _run(cmd: list, cwd: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=cwd, timeout=600,
        env={**os.environ, 'PYTHONPATH': ROOT, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """Two epochs of the tiny VideoMAE from the K400 config: (work dir,
    config, data root)."""
    root = tmp_path_factory.mktemp('video_runs')
    data = write_kinetics(str(root / 'k400'))
    base = [p for p in PRETRAIN_CONFIGS if 'videomae' in p]
    cfg = root / 'videomae_tiny.py'
    cfg.write_text(PRETRAIN.format(
        base=_k400(base), model=tiny_pretrain_model(), frames=FRAMES,
        size=IMG, batch=BATCH, data=data))
    work = str(root / 'ref')
    _run(train_cmd(str(cfg), work), str(root))
    return work, str(cfg), data


def test_videomae_trains_and_resumes_exactly(pretrained, tmp_path):
    work, cfg, _ = pretrained
    losses = per_iter_losses(work, keys=('loss', ))
    assert sorted(losses) == [1, 2, 3, 4]
    assert all(math.isfinite(v) and v > 0 for (v, ) in losses.values())
    # from the checkpoint of epoch 1, epoch 2 again: the same losses
    resumed = str(tmp_path / 'resumed')
    _run(train_cmd(cfg, resumed, '--resume', osp.join(work, 'epoch_1.pth')),
         str(tmp_path))
    again = per_iter_losses(resumed, keys=('loss', ))
    assert sorted(again) == [3, 4]
    for it, (loss, ) in again.items():
        assert loss == pytest.approx(losses[it][0], abs=1e-6), it
    state = load_ckpt(osp.join(resumed, 'epoch_2.pth'))['state_dict']
    want = load_ckpt(osp.join(work, 'epoch_2.pth'))['state_dict']
    for key, val in want.items():
        torch.testing.assert_close(state[key], val, rtol=0, atol=1e-6)


def test_videohpm_trains(tmp_path):
    data = write_kinetics(str(tmp_path / 'k400'))
    base = [p for p in PRETRAIN_CONFIGS if osp.basename(p).startswith('hpm')]
    cfg = tmp_path / 'hpm_tiny.py'
    text = PRETRAIN.format(base=_k400(base), model=tiny_pretrain_model(),
                           frames=FRAMES, size=IMG, batch=BATCH, data=data)
    cfg.write_text(text.replace('max_epochs=2', 'max_epochs=1'))
    work = str(tmp_path / 'work')
    _run(train_cmd(str(cfg), work), str(tmp_path))
    logged = per_iter_losses(work, keys=('loss_rec', 'loss_pred', 'alpha'))
    assert sorted(logged) == [1, 2]
    for rec, pred, alpha in logged.values():
        assert math.isfinite(rec) and rec > 0 and math.isfinite(pred)
        assert alpha == pytest.approx(0.5)  # epoch 1 of 1: all of alpha_max
    state = load_ckpt(osp.join(work, 'epoch_1.pth'))['state_dict']
    assert int(state['teacher.steps']) == 2


def test_converted_encoder_fine_tunes_in_mmaction(pretrained, tmp_path):
    work, _, data = pretrained
    mma = convert(osp.join(work, 'epoch_2.pth'), str(tmp_path / 'mma.pth'),
                  'mmaction')
    model = tiny_action_model()
    # the config's own init_cfg (Pretrained, prefix), our file in it
    model['backbone']['init_cfg'] = dict(checkpoint=mma)
    cfg = tmp_path / 'finetune_tiny.py'
    cfg.write_text(FINETUNE.format(
        base=_k400(ACTION_CONFIGS), model=model, frames=FRAMES, size=IMG,
        batch=BATCH, ann=osp.join(data, 'kinetics400_train_list_videos.txt'),
        videos=osp.join(data, 'videos_train')))
    ft = str(tmp_path / 'ft')
    # fp32 on the CPU as the config says; lr 0: after the step the weights
    # are the ones the encoder started from
    proc = _run([sys.executable, MMACTION_TRAIN, str(cfg), '--work-dir', ft,
                 '--cfg-options', 'optim_wrapper.type=OptimWrapper',
                 'optim_wrapper.optimizer.lr=0.0'], str(tmp_path))
    log = proc.stdout + proc.stderr
    assert f'load backbone. in model from: {mma}' in log  # init_cfg
    assert 'missing keys' not in log and 'unexpected key' not in log
    assert sorted(per_iter_losses(ft, keys=('loss_cls', ))) == [1, 2]
    # lr 0: the fine-tuned backbone is the converted one, the head is not
    tuned = load_ckpt(osp.join(ft, 'epoch_1.pth'))['state_dict']
    converted = read_checkpoint(mma)['state_dict']
    backbone = {k: v for k, v in tuned.items() if k.startswith('backbone.')}
    assert backbone.keys() == converted.keys()
    for key, val in converted.items():
        assert torch.equal(backbone[key], val), key
    encoder = take_prefix(load_ckpt(osp.join(work, 'epoch_2.pth'))
                          ['state_dict'], 'backbone.')
    assert torch.equal(backbone['backbone.blocks.1.mlp.layers.1.weight'],
                       encoder['blocks.1.mlp.layers.1.weight'])
