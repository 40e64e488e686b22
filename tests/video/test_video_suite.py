"""tools/run_benchmarks.py through the video stages on tiny data: a tiny
video HPM pre-training checkpoint (its EMA teacher) is converted once
(``--to mmaction``),
then K400 and SSv2 are fine-tuned for 2 iterations and tested (5 x 3 and
2 x 3 views) with mmaction2's own tools and the repository's configs/action
configs, shrunk with the suite's own ``--cfg-options``; a second call
skips both. Dry runs: a video checkpoint runs the video stages only, an
image one the image stages only, and what cannot run stops in one line.

The kill/resume path is the image stages' (tests/test_run_benchmarks.py
kills one and resumes it): the video stages take it file for file.
"""
import glob
import json
import os
import os.path as osp
import shutil
from typing import List

import mmengine
import pytest
import torch

from hpm_mm.cli import load_config
from hpm_mm.testing.video import write_kinetics, write_sthv2

from ..conftest import ROOT
from ..downstream.helpers import config
from ..test_run_benchmarks import (_call, _fake_vit, _headers, _main,
                                   diff_options)
from .tiny_video import (ACTION_CONFIGS, FRAMES, IMG, PRETRAIN_CONFIGS,
                         tiny_action_model, tiny_pretrain_model)

MMACTION_TOOLS = osp.join('mmaction', '.mim', 'tools')
CONFIGS = dict(
    k400=[c for c in ACTION_CONFIGS if 'kinetics400' in c][0],
    ssv2=[c for c in ACTION_CONFIGS if 'sthv2' in c][0])
STAGES = ('convert', 'k400', 'ssv2')


def tiny_video_checkpoint(path: str) -> str:
    """The tiny video HPM of the K400 pre-training config, as its
    checkpoints hold it (encoder, decoders, EMA teacher)."""
    import hpm_mm.video  # noqa: F401  (registers the video models)
    from mmpretrain.registry import MODELS
    (rel, ) = [p for p in PRETRAIN_CONFIGS
               if osp.basename(p).startswith('hpm') and 'k400' in p]
    cfg = load_config(rel)
    cfg.merge_from_dict(dict(model=tiny_pretrain_model()))
    model = MODELS.build(cfg.model)
    torch.save(dict(meta=dict(epoch=800), state_dict=model.state_dict()),
               path)
    return path


def shrink_action(cfg: mmengine.Config) -> mmengine.Config:
    """The tiny ViT, 4-frame clips of 32 px, batches of 2 (the recipe and
    the test views kept)."""
    model = tiny_action_model()
    del model['backbone']['init_cfg']  # the suite sets the checkpoint
    cfg.merge_from_dict(dict(model=model))
    for loader in ('train', 'val', 'test'):
        cfg[f'{loader}_dataloader'].update(
            batch_size=2, num_workers=0, persistent_workers=False)
        for t in cfg[f'{loader}_dataloader'].dataset.pipeline:
            if 'clip_len' in t:
                t.update(clip_len=FRAMES)
            if 'frame_interval' in t:
                t.update(frame_interval=1)
            if t['type'] == 'Resize':
                t.update(scale=(-1, IMG) if t.scale[0] == -1 else (IMG, IMG))
            if 'crop_size' in t:
                t.update(crop_size=IMG)
    return cfg


def tiny_options() -> List[str]:
    """The suite's ``--cfg-options``: each config shrunk, for CPU (no AMP),
    2 iterations, no validation (the test tool scores)."""
    out = []
    for name, path in CONFIGS.items():
        rel = osp.relpath(path, ROOT)
        base = config(rel)
        out += [f'{name}:{o}' for o in diff_options(
            base.to_dict(), shrink_action(config(rel)).to_dict())]
        # no AMP on the CPU: a plain wrapper
        out.append(f'{name}:optim_wrapper.type=OptimWrapper')
    return out + ['train_cfg.max_epochs=1', 'train_cfg.val_begin=1000',
                  'default_hooks.checkpoint.interval=1']


# ------------------------------------------------------------ the suite --
@pytest.fixture(scope='module')
def suite(tmp_path_factory):
    """Tiny K400 and SSv2 data, a tiny video HPM pre-training checkpoint,
    and the suite's first call (its teacher's encoder)."""
    tmp = tmp_path_factory.mktemp('video_suite')
    k400 = write_kinetics(str(tmp / 'k400'))
    ssv2 = write_sthv2(str(tmp / 'ssv2'))
    ckpt = tiny_video_checkpoint(str(tmp / 'videohpm.pth'))
    work = str(tmp / 'bench')
    args = [ckpt, '--work-dir', work, '--source', 'teacher', '--arch', 'b',
            '--data-root', f'k400={k400}', f'ssv2={ssv2}',
            '--cfg-options', *tiny_options()]
    return dict(work=work, args=args, first=_call(args))


def _logs(work: str) -> dict:
    """Attempts per tool log of each stage."""
    return {f'{d}/{p}': len(_headers(osp.join(work, d, p)))
            for d in STAGES for p in ('convert.log', 'train.log', 'test.log')
            if osp.isfile(osp.join(work, d, p))}


def test_video_stages_run_with_mmaction_tools_and_values_come_from_files(
        suite):
    first, work = suite['first'], suite['work']
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert ('[suite] a video pre-training checkpoint (a 5-D patch '
            'embedding): video benchmarks only') in first.stdout
    for i, stage in enumerate(STAGES, start=1):
        assert f'[{i}/3] {stage}:' in first.stdout
    assert _logs(work) == {'convert/convert.log': 1, 'k400/train.log': 1,
                           'k400/test.log': 1, 'ssv2/train.log': 1,
                           'ssv2/test.log': 1}
    with open(osp.join(work, 'convert', 'convert.log')) as f:
        assert '--to mmaction --source teacher' in f.read()
    with open(osp.join(work, 'results.json')) as f:
        summary = json.load(f)
    assert summary['paper'].startswith("VideoMAE's reference numbers")
    rows = summary['rows']
    assert [r['benchmark'] for r in rows] == ['k400', 'ssv2']
    for row, paper in zip(rows, (80.0, 69.6)):
        name = row['benchmark']
        assert row['status'] == 'done', row
        assert row['config'] == osp.relpath(CONFIGS[name], ROOT)
        assert row['checkpoint'] == osp.join(work, name, 'epoch_1.pth')
        assert row['paper'] == paper and row['wall_s'] > 0
        # mmaction2's tools trained and tested
        for tool in ('train', 'test'):
            (header, ) = _headers(osp.join(work, name, f'{tool}.log'))
            assert f'{MMACTION_TOOLS}/{tool}.py {row["config"]}' in header
        # the value is mmaction's AccMetric (0-1) in %, from the json log
        # the test tool wrote
        (log, ) = glob.glob(osp.join(work, name, 'test', '*', '*.json'))
        with open(log) as f:
            top1 = json.load(f)['acc/top1']
        assert row['value'] == pytest.approx(100 * top1)
        assert row['file'] == osp.join(work, name, 'metrics.json')
    with open(osp.join(work, 'results.md')) as f:
        assert "paper: VideoMAE's reference numbers, not HPM's" in f.read()


def test_second_call_skips_both_video_stages(suite):
    work = suite['work']
    with open(osp.join(work, 'results.json')) as f:
        rows = json.load(f)['rows']
    logs = _logs(work)
    again = _call(suite['args'])
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for i, stage in enumerate(STAGES, start=1):
        assert f'[{i}/3] {stage}: skipped, done' in again.stdout
    assert _logs(work) == logs  # no tool was started
    with open(osp.join(work, 'results.json')) as f:
        assert json.load(f)['rows'] == rows


def test_an_interrupted_video_stage_resumes_with_mmaction_train(suite):
    """K400 as a kill during training leaves it (an attempt without its exit
    line, a checkpoint, no metrics): the third call trains with --resume,
    mmaction2's train.py resumes from the checkpoint, then the stage tests
    again; SSv2 is skipped."""
    work = suite['work']
    k400 = osp.join(work, 'k400')
    shutil.rmtree(osp.join(k400, 'test'))
    for name in ('metrics.json', 'test.log'):
        os.remove(osp.join(k400, name))
    with open(osp.join(k400, 'train.log'), 'a') as f:
        f.write('=== hpm_mm benchmark suite, killed: (no exit line)\n')
    third = _call(suite['args'])
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert ('k400: train, resuming from the newest checkpoint in '
            f'{k400}') in third.stdout
    assert '[3/3] ssv2: skipped, done' in third.stdout
    with open(osp.join(k400, 'train.log')) as f:
        log = f.read()
    last = log.rsplit('=== hpm_mm benchmark suite', 1)[1]
    assert f'{MMACTION_TOOLS}/train.py' in last and ' --resume' in last
    assert 'resumed epoch: 1' in last  # mmengine's line: epoch_1.pth read
    assert osp.isfile(osp.join(k400, 'metrics.json'))


# ------------------------------------------------------ dry runs, inputs --
def _fake_video_vit(path: str) -> str:
    """A video HPM checkpoint of ViT-B's shapes, every tensor a stride-0
    view of one zero (a few KB): what the suite reads of it."""
    def t(*shape):
        return torch.zeros(1).expand(*shape)

    state = {'backbone.patch_embed.projection.weight': t(768, 3, 2, 16, 16),
             'backbone.pos_embed': t(1, 1568, 768),
             'neck.mask_token': t(1, 1, 384)}
    for i in range(12):
        state[f'backbone.blocks.{i}.mlp.layers.0.0.weight'] = t(3072, 768)
    torch.save(dict(state_dict=state), path)
    return path


def test_dry_run_of_a_video_checkpoint_runs_the_video_stages_only(
        tmp_path, capsys):
    ckpt = _fake_video_vit(str(tmp_path / 'videohpm.pth'))
    work = str(tmp_path / 'w')
    assert _main([ckpt, '--work-dir', work, '--launcher', 'pytorch',
                  '--gpus', '8', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert not osp.exists(work)
    assert 'ViT-B configs: read off the weights): convert -> k400 -> ssv2' \
        in out
    assert 'video benchmarks only' in out and 'finetune' not in out
    assert '--to mmaction --source student' in out
    for name, views in CONFIGS.items():
        rel = osp.relpath(views, ROOT)
        assert f'{MMACTION_TOOLS}/dist_train.sh {rel} 8 --work-dir ' \
            f'{work}/{name}' in out
        assert f'{MMACTION_TOOLS}/dist_test.sh {rel} "$(cat {work}/{name}/' \
            f'last_checkpoint)" 8 --work-dir {work}/{name}/test ' \
            '--cfg-options' in out  # mmaction's test.py has no --out

    image = _fake_vit(str(tmp_path / 'image.pth'), 'b')
    assert _main([image, '--work-dir', work, '--dry-run']) == 0
    out = capsys.readouterr().out
    assert 'an image pre-training checkpoint (a 4-D patch embedding): ' \
        'image benchmarks only' in out
    assert 'finetune' in out and 'k400' not in out and 'ssv2' not in out


def test_video_inputs_that_cannot_run_end_in_one_line(tmp_path, capsys):
    video = tiny_video_checkpoint(str(tmp_path / 'videohpm.pth'))
    image = _fake_vit(str(tmp_path / 'image.pth'), 'b')
    work = str(tmp_path / 'w')
    for args, message in (
        ([video], 'neither ViT-B nor ViT-L'),  # the tiny ViT: --arch needed
        ([video, '--arch', 'b', '--benchmarks', 'k400', 'finetune'],
         'finetune: not a benchmark of a video pre-training checkpoint'),
        ([image, '--benchmarks', 'ssv2'],
         'ssv2: not a benchmark of an image pre-training checkpoint'),
        ([video, '--arch', 'b', '--launcher', 'slurm', '--partition', 'p'],
         "--launcher slurm: mmaction2's tools/slurm_*.sh"),
    ):
        assert _main(args + ['--work-dir', work, '--dry-run']) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)
    assert not osp.exists(work)
