"""Video data: the tiny K400/SSv2 writers, mmaction's VideoDataset and
decord reading them, and bad videos and lists refused in one line naming
the file: by CheckedDecordInit, by the tools' pre-flight check, and by
tools/train.py on the tiny VideoMAE config."""
import glob
import os
import os.path as osp
import subprocess
import sys

import decord
import numpy as np
import pytest
from mmaction.datasets.transforms import DecordDecode, SampleFrames
from mmengine.config import Config
from mmengine.registry import DATASETS, DefaultScope

from hpm_mm.cli import DatasetError, check_dataset_paths
from hpm_mm.testing.video import (moving_square_clip, write_kinetics,
                                  write_sthv2, write_video)
from hpm_mm.video.loading import CheckedDecordInit

from ..conftest import ROOT


@pytest.fixture(scope='module')
def k400(tmp_path_factory) -> str:
    return write_kinetics(str(tmp_path_factory.mktemp('data') / 'k400'))


def _lines(path: str) -> list:
    with open(path) as f:
        return [line.split() for line in f.read().splitlines()]


def test_kinetics_layout_and_round_trip(k400):
    train = _lines(osp.join(k400, 'kinetics400_train_list_videos.txt'))
    val = _lines(osp.join(k400, 'kinetics400_val_list_videos.txt'))
    assert [label for _, label in train] == ['0', '0', '1', '1']
    assert [label for _, label in val] == ['0', '1']
    assert train[2][0].startswith('class_1/') and train[2][0].endswith('.mp4')
    for split, lines in (('train', train), ('val', val)):
        for name, _ in lines:
            vr = decord.VideoReader(osp.join(k400, f'videos_{split}', name))
            assert len(vr) == 24
            assert vr[0].shape == (40, 40, 3)
    # the content: the first training clip, decoded, is the written one
    expected = moving_square_clip(np.random.default_rng(0), 24, 40)
    vr = decord.VideoReader(osp.join(k400, 'videos_train', train[0][0]))
    frames = vr.get_batch(list(range(24))).asnumpy()
    err = np.abs(frames.astype(float) - expected).mean(axis=(1, 2, 3))
    assert err.max() < 6, err
    # and the square moves: its brightest pixels are elsewhere at the end
    first, last = (np.argwhere(f.min(axis=-1) > 230).mean(0)
                   for f in frames[[0, -1]])
    moved = np.argwhere(expected[0].min(-1) == 255).mean(0) - \
        np.argwhere(expected[-1].min(-1) == 255).mean(0)
    assert np.abs(first - last - moved).max() < 1.5
    assert np.abs(moved).max() > 3


def test_sthv2_layout(tmp_path):
    root = write_sthv2(str(tmp_path / 'sthv2'), num_classes=3, per_class=2,
                       num_frames=10, size=32, seed=1)
    train = _lines(osp.join(root, 'sthv2_train_list_videos.txt'))
    val = _lines(osp.join(root, 'sthv2_val_list_videos.txt'))
    assert [n for n, _ in train] == [f'{i}.mp4' for i in range(1, 7)]
    assert [n for n, _ in val] == ['7.mp4', '8.mp4', '9.mp4']
    assert sorted(os.listdir(osp.join(root, 'videos'))) == sorted(
        n for n, _ in train + val)
    vr = decord.VideoReader(osp.join(root, 'videos', '9.mp4'))
    assert len(vr) == 10 and vr[0].shape == (32, 32, 3)


def _pipeline(min_frames: int, prefix: str = 'mmaction.') -> list:
    return [dict(type=prefix + 'CheckedDecordInit', min_frames=min_frames),
            dict(type=prefix + 'SampleFrames', clip_len=16,
                 frame_interval=1),
            dict(type=prefix + 'DecordDecode')]


@pytest.mark.parametrize('scope,prefix', [('mmpretrain', 'mmaction.'),
                                          ('mmaction', '')])
def test_video_dataset_reads_the_clips(k400, scope, prefix):
    """mmaction's VideoDataset and transforms, from an mmpretrain-scoped
    config (``mmaction.`` types) and from an mmaction one."""
    with DefaultScope.overwrite_default_scope(scope):
        ds = DATASETS.build(dict(
            type=prefix + 'VideoDataset',
            ann_file=osp.join(k400, 'kinetics400_train_list_videos.txt'),
            data_prefix=dict(video=osp.join(k400, 'videos_train')),
            pipeline=_pipeline(16, prefix)))
        sample = ds[3]
    assert len(ds) == 4 and sample['label'] == 1
    assert len(sample['imgs']) == 16 and sample['imgs'][0].shape == (40, 40,
                                                                      3)


@pytest.fixture(scope='module')
def bad(tmp_path_factory, k400) -> dict:
    """Bad videos (a truncated copy of a good one): name -> path."""
    tmp = tmp_path_factory.mktemp('bad')
    with open(osp.join(k400, 'videos_train', 'class_0',
                       'train000000_000000_000010.mp4'), 'rb') as f:
        data = f.read()
    out = dict(missing=str(tmp / 'missing.mp4'),
               empty=str(tmp / 'empty.mp4'),
               garbage=str(tmp / 'garbage.mp4'),
               truncated=str(tmp / 'truncated.mp4'))
    for name, content in (('empty', b''),
                          ('garbage', b'<html>404 Not Found</html>\n' * 40),
                          ('truncated', data[:len(data) // 2])):
        with open(out[name], 'wb') as f:
            f.write(content)
    out['short'] = write_video(str(tmp / 'short.mp4'),
                               moving_square_clip(np.random.default_rng(1),
                                                  5, 40))
    return out


BAD_VIDEOS = [
    ('missing', 'video not found: {}'),
    ('empty', 'corrupt video: {} (decord: '),
    ('garbage', 'corrupt video: {} (decord: '),
    ('truncated', 'corrupt video: {} (decord: '),
    ('short', 'video too short: {} has 5 frames, the clip needs at least 16'),
]


@pytest.mark.parametrize('case,message', BAD_VIDEOS,
                         ids=[case for case, _ in BAD_VIDEOS])
def test_checked_decord_init_names_the_file(bad, case, message):
    load = CheckedDecordInit(min_frames=16)
    with pytest.raises(Exception) as info:
        load(dict(filename=bad[case]))
    text = str(info.value)
    assert text.startswith(message.format(bad[case])), text
    assert '\n' not in text and len(text) < 300, text
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_checked_decord_init_passes_a_short_video_it_may_loop(bad):
    """The default bound is one frame: a 5-frame video makes a 16-frame
    clip by looping, as mmaction (and the reference) would."""
    load = CheckedDecordInit()
    results = load(dict(filename=bad['short'], start_index=0))
    assert results['total_frames'] == 5
    results = SampleFrames(clip_len=16)(
        results)
    assert len(DecordDecode()(
        results)['imgs']) == 16


@pytest.mark.parametrize('value', [0, -3, 2.5, '16', True])
def test_checked_decord_init_refuses_a_bad_min_frames(value):
    with pytest.raises(ValueError, match=r'^CheckedDecordInit: min_frames '
                       f'must be a positive integer, got {value!r}$'):
        CheckedDecordInit(min_frames=value)


# ---- the tools' pre-flight check of the annotation list ------------------

def _cfg(k400: str, ann: str, scope: str = 'mmpretrain') -> Config:
    prefix = 'mmaction.' if scope == 'mmpretrain' else ''
    return Config(dict(
        default_scope=scope,
        train_dataloader=dict(dataset=dict(
            type=prefix + 'VideoDataset', ann_file=ann,
            data_prefix=dict(video=osp.join(k400, 'videos_train')),
            pipeline=_pipeline(16, prefix)))))


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmaction'])
def test_preflight_passes_a_good_list(k400, scope):
    check_dataset_paths(_cfg(
        k400, osp.join(k400, 'kinetics400_train_list_videos.txt'), scope))


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmaction'])
def test_preflight_names_an_empty_list(k400, tmp_path, scope):
    ann = str(tmp_path / 'kinetics400_train_list_videos.txt')
    with open(ann, 'w') as f:
        f.write('\n  \n')
    with pytest.raises(DatasetError,
                       match=f'^dataset is empty: {ann} lists 0 videos$'):
        check_dataset_paths(_cfg(k400, ann, scope))


def test_preflight_names_a_missing_list(k400, tmp_path):
    ann = str(tmp_path / 'nope.txt')
    with pytest.raises(FileNotFoundError, match='^train_dataloader.dataset.'
                       f'ann_file does not exist: {ann}$'):
        check_dataset_paths(_cfg(k400, ann))


def test_preflight_names_a_first_video_not_there(k400, tmp_path):
    ann = str(tmp_path / 'list.txt')
    with open(ann, 'w') as f:
        f.write('class_0/nope 0\n')  # DecordInit adds .mp4
    path = osp.join(k400, 'videos_train', 'class_0', 'nope.mp4')
    with pytest.raises(DatasetError, match=f'the first video {ann} lists '
                       f'does not exist: {path} '):
        check_dataset_paths(_cfg(k400, ann))


# ---- tools/train.py on the tiny VideoMAE config, as a user would run it ---

TINY = '''
_base_ = [{base!r}]
model = {model!r}
train_pipeline = [
    dict(type='mmaction.CheckedDecordInit', min_frames={frames} * 2),
    dict(type='mmaction.SampleFrames', clip_len={frames}, frame_interval=2,
         num_clips=1, out_of_bound_opt='repeat_last'),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.Resize', scale=({size}, {size}), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='PackInputs', input_key='imgs'),
]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root={data!r}, pipeline=train_pipeline))
train_cfg = dict(max_epochs=1)
'''


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, k400, bad) -> dict:
    """The tiny config and one-line lists naming a bad video (or none)."""
    # the video configs and their tiny model (imported here: the data
    # tests above need neither)
    from .tiny_video import (FRAMES, IMG, PRETRAIN_CONFIGS,
                             tiny_pretrain_model)
    tmp = tmp_path_factory.mktemp('tiny_run')
    (base, ) = [p for p in PRETRAIN_CONFIGS
                if osp.basename(p).startswith('videomae') and 'k400' in p]
    out = dict(tmp=str(tmp), cfg=str(tmp / 'videomae_tiny.py'))
    with open(out['cfg'], 'w') as f:
        f.write(TINY.format(base=base, model=tiny_pretrain_model(),
                            frames=FRAMES, size=IMG, data=k400))
    for case in ('garbage', 'short', 'empty'):
        out[case] = str(tmp / f'{case}_list.txt')
        with open(out[case], 'w') as f:
            f.write('' if case == 'empty' else f'{bad[case]} 0\n')
    return out


@pytest.mark.parametrize('case,message', [
    ('garbage', 'corrupt video: {garbage_video} (decord: '),
    ('short', 'video too short: {short_video} has 5 frames, the clip needs '
     'at least 8'),
    ('empty', 'dataset is empty: {empty} lists 0 videos'),
], ids=['corrupt video', 'short video', 'empty list'])
def test_train_tool_says_one_line(tiny_run, bad, case, message):
    work = osp.join(tiny_run['tmp'], f'work_{case}')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'),
         tiny_run['cfg'], '--work-dir', work, '--cfg-options',
         f'train_dataloader.dataset.ann_file={tiny_run[case]}'],
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=300, cwd=tiny_run['tmp'])
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    expected = 'train: error: ' + message.format(
        garbage_video=bad['garbage'], short_video=bad['short'], **tiny_run)
    assert last.startswith(expected), proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert not glob.glob(osp.join(work, '*.pth'))
