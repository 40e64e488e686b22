"""tools/run_benchmarks.py end to end: a short pre-training, the conversion
and every benchmark (fine-tune, linear, kNN, COCO, ADE20K) for a few
iterations on tiny data in the real formats, through the real configs and
tools; then a second call that skips every stage, a call killed in the
middle of a stage, and a call where that stage resumes while a failing one
is reported.

The models are shrunk with the suite's own ``--cfg-options``: the options
are the difference between each real config and the same config shrunk by
the downstream tests' helpers.
"""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
from typing import Any, List

import mmengine
import pytest
import torch
from mmpretrain.models import VisionTransformer

from hpm_mm.testing import (ARCH, IMG, shrink_cls, shrink_det, shrink_seg,
                            write_ade20k, write_coco, write_imagenet)

from .conftest import (ROOT, build_tiny_hpm, pythonpath_with_sitecustomize,
                       write_tiny_config)
from .downstream.helpers import config

TOOL = osp.join(ROOT, 'tools', 'run_benchmarks.py')
CONFIGS = dict(
    finetune=('configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py',
              shrink_cls),
    linear=('configs/cls/hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py',
            shrink_cls),
    coco=('configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py',
          shrink_det),
    ade20k=('configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-'
            '512x512.py', shrink_seg))
STAGES = ('convert', 'finetune', 'linear', 'knn', 'coco', 'ade20k')


# ------------------------------------------------- the shrinking options --
def _value(v: Any) -> str:
    """``v`` as mmengine's ``DictAction`` reads it back."""
    if isinstance(v, tuple):
        return '(' + ','.join(_value(x) for x in v) + ',)'
    if isinstance(v, list):
        return '[' + ','.join(_value(x) for x in v) + ']'
    return repr(v) if isinstance(v, float) else str(v)


def _scalar_seq(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and not any(
        isinstance(x, (dict, list, tuple)) for x in v)


def diff_options(base: Any, new: Any, key: str = '') -> List[str]:
    """``KEY=VALUE`` options turning config ``base`` into ``new``."""
    if isinstance(new, dict):
        if not isinstance(base, dict):  # e.g. arch 'b' -> a dict
            return [f'{key}._delete_=True'] + [
                o for k, v in new.items()
                for o in diff_options(None, v, f'{key}.{k}')]
        return [o for k, v in new.items()
                for o in diff_options(base.get(k), v,
                                      f'{key}.{k}' if key else k)]
    if isinstance(new, (list, tuple)) and not _scalar_seq(new) and \
            isinstance(base, (list, tuple)) and len(base) == len(new):
        return [o for i, (b, n) in enumerate(zip(base, new))
                for o in diff_options(b, n, f'{key}.{i}')]
    if base == new and type(base) is type(new):
        return []
    return [f'{key}={_value(new)}']


def tiny_options() -> List[str]:
    """The suite's ``--cfg-options`` for tiny models, 1-2 iterations."""
    out = []
    for name, (rel, shrink) in CONFIGS.items():
        base = config(rel)
        small = shrink(config(rel), base.model.backbone.init_cfg.checkpoint)
        out += [f'{name}:{o}'
                for o in diff_options(base.to_dict(), small.to_dict())]
    for loader in ('train', 'val', 'test'):  # every config benchmark
        out += [f'{loader}_dataloader.num_workers=0',
                f'{loader}_dataloader.persistent_workers=False']
    out += ['randomness.seed=0', 'default_hooks.checkpoint.interval=1',
            'train_cfg.val_begin=1000']  # no validation: test.py scores
    out += ['finetune,linear,coco:train_cfg.max_epochs=1',
            'coco:train_dataloader.dataset.times=1',
            # untrained: keep every detection, so that COCO scores some
            'coco:model.test_cfg.rcnn.score_thr=0.0',
            'ade20k:train_cfg.max_iters=2']
    return out


KNN_ARGS = (f'--img-size {IMG} --num-heads {ARCH["num_heads"]} '
            '--batch-size 4 --num-workers 0 --ks 1 20')


def _call(args: List[str], **extra_env) -> subprocess.CompletedProcess:
    """The suite in a session of its own (a kill of its group is a job's
    end: the suite and the tool it runs, not pytest). Its output is a
    pipe, buffered as a redirected log is, whatever this shell sets."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop('PYTHONUNBUFFERED', None)
    env.update(extra_env)
    return subprocess.run([sys.executable, TOOL] + args, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900,
                          start_new_session=True)


# Put on the PYTHONPATH of the suite and of the tools it starts: once the
# checkpoint $KILL_AFTER is complete (renamed into place by the atomic
# file backend), the whole job is SIGKILLed, as a cluster ends a job at its
# time limit or loses its node.
KILL_AFTER_FIRST_CHECKPOINT = '''
import os
import signal

_replace = os.replace
_after = os.environ.get('KILL_AFTER')


def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if _after and os.path.abspath(dst) == _after:
        os.killpg(os.getpgrp(), signal.SIGKILL)


os.replace = replace
'''


def _headers(path: str) -> List[str]:
    """The suite's command lines in a stage log, one per attempt."""
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [line for line in f if line.startswith('=== hpm_mm bench')]


def _logs(work: str) -> dict:
    return {
        p: len(_headers(osp.join(work, d, p)))
        for d in STAGES
        for p in ('convert.log', 'train.log', 'test.log', 'knn.log')
        if osp.isfile(osp.join(work, d, p))
    }


def _expected(work: str, row: dict) -> float:
    """The row's value, read here from where each tool writes it."""
    if row['benchmark'] == 'knn':
        with open(osp.join(work, 'knn', 'knn.json')) as f:
            return json.load(f)['results']['20']['top1']
    with open(osp.join(work, row['benchmark'], 'metrics.json')) as f:
        metrics = json.load(f)
    key = dict(finetune='accuracy/top1', linear='accuracy/top1',
               ade20k='mIoU')
    if row['benchmark'] == 'coco':
        kind = 'bbox' if 'box' in row['metric'] else 'segm'
        return 100 * metrics[f'coco/{kind}_mAP']
    return metrics[key[row['benchmark']]]


def _paper(rel_config: str, name: str) -> Any:
    meta = mmengine.load(osp.join(ROOT, osp.dirname(rel_config),
                                  'metafile.yml'))
    entry = next(m for m in meta['Models'] if m['Config'] == rel_config)
    for res in entry.get('Results') or []:
        if name in res['Metrics']:
            return res['Metrics'][name]
    return None


# ------------------------------------------------------------ the suite --
@pytest.fixture(scope='module')
def suite(tmp_path_factory):
    """Data, a 2-epoch pre-training, and the suite's first call."""
    tmp = tmp_path_factory.mktemp('suite')
    imagenet = write_imagenet(str(tmp / 'imagenet'))
    coco = write_coco(str(tmp / 'coco'))
    ade = write_ade20k(str(tmp / 'ade'), width=128, height=96)
    pre_cfg = write_tiny_config(str(tmp / 'pretrain.py'), imagenet)
    pre_dir = str(tmp / 'pretrain')
    done = subprocess.run(
        [sys.executable, 'tools/train.py', pre_cfg, '--work-dir', pre_dir],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    work = str(tmp / 'bench')
    args = [
        osp.join(pre_dir, 'epoch_2.pth'), '--work-dir', work, '--source',
        'teacher', '--arch', 'b', '--data-root', f'imagenet={imagenet}',
        f'coco={coco}', f'ade20k={ade}', '--cfg-options', *tiny_options(),
        '--extra-args'
    ]
    first = _call(args + [f'knn={KNN_ARGS}'])
    return dict(work=work, args=args, first=first)


def test_every_stage_runs_and_every_value_comes_from_its_files(suite):
    first, work = suite['first'], suite['work']
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for i, stage in enumerate(STAGES, start=1):
        assert f'[{i}/6] {stage}:' in first.stdout
    with open(osp.join(work, 'results.json')) as f:
        summary = json.load(f)
    rows = summary['rows']
    assert [r['benchmark'] for r in rows] == [
        'finetune', 'linear', 'knn', 'coco', 'coco', 'ade20k']
    assert summary['source'] == 'teacher' and summary['arch'] == 'b'
    for row in rows:
        assert row['status'] == 'done', row
        assert row['value'] == pytest.approx(_expected(work, row)), row
        assert row['wall_s'] > 0
        name = row['benchmark']
        if name == 'knn':
            assert row['checkpoint'] == osp.join(work, 'convert',
                                                 'encoder.pth')
            assert row['paper'] is None
            continue
        rel = CONFIGS[name][0]
        assert row['config'] == rel
        final = 'iter_2.pth' if name == 'ade20k' else 'epoch_1.pth'
        assert row['checkpoint'] == osp.join(work, name, final)
        paper_name = dict(finetune='Top 1 Accuracy', linear='Top 1 Accuracy',
                          ade20k='mIoU')
        paper_name['coco'] = 'box AP' if 'box' in row['metric'] \
            else 'mask AP'
        assert row['paper'] == _paper(rel, paper_name[name])
        # the metrics are the test tool's: its own run dir holds its log
        assert os.listdir(osp.join(work, name, 'test'))
    assert rows[0]['paper'] == 84.2 and rows[-1]['paper'] == 48.5
    # the teacher's encoder was converted and evaluated
    with open(osp.join(work, 'convert', 'convert.log')) as f:
        assert '--source teacher' in f.read()
    with open(osp.join(work, 'results.md')) as f:
        table = f.read()
    for row in rows:
        assert f'{row["value"]:.2f}' in table
    with open(osp.join(work, 'results.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_second_call_skips_every_stage(suite):
    work = suite['work']
    with open(osp.join(work, 'results.json')) as f:
        rows = json.load(f)['rows']
    logs = _logs(work)
    again = _call(suite['args'] + [f'knn={KNN_ARGS}'])
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for i, stage in enumerate(STAGES, start=1):
        assert f'[{i}/6] {stage}: skipped, done' in again.stdout
    assert _logs(work) == logs  # no tool was started
    with open(osp.join(work, 'results.json')) as f:
        assert json.load(f)['rows'] == rows


def test_work_dir_belongs_to_one_checkpoint(suite, tmp_path, capsys):
    """Another checkpoint, or the same one's other encoder, in a work dir
    that holds a checkpoint's benchmarks stops before anything runs."""
    other = str(tmp_path / 'other.pth')
    shutil.copy(suite['args'][0], other)
    for args in ([other], [suite['args'][0], '--source', 'student']):
        assert _main(args + ['--work-dir', suite['work'], '--arch', 'b',
                             '--dry-run']) == 2
        err = capsys.readouterr().err
        assert 'holds the benchmarks of another checkpoint' in err, err


def test_interrupted_stage_resumes_and_failed_one_is_reported(
        suite, tmp_path):
    """ADE20K run again and killed (suite and training together) once its
    first checkpoint is complete; the next call resumes it from there. kNN
    fails in that call (a bad option), and ADE20K, after it, still runs."""
    work = suite['work']
    seg = osp.join(work, 'ade20k')
    shutil.rmtree(seg)
    killed = _call(suite['args'] + [f'knn={KNN_ARGS}'],
                   PYTHONPATH=pythonpath_with_sitecustomize(
                       tmp_path, KILL_AFTER_FIRST_CHECKPOINT),
                   KILL_AFTER=osp.join(seg, 'iter_1.pth'))
    assert killed.returncode == -signal.SIGKILL, \
        killed.stdout[-3000:] + killed.stderr[-3000:]
    # the progress lines reached the log before the kill, up to the last
    what, command = ([''] * 2 + killed.stdout.splitlines())[-2:]
    assert what == f'[6/6] ade20k: train ({CONFIGS["ade20k"][0]}); left ' \
        'after it: test', killed.stdout[-3000:]
    assert f'tools/train.py {CONFIGS["ade20k"][0]} --work-dir {seg}' in \
        command, command
    assert osp.isfile(osp.join(seg, 'iter_1.pth'))
    assert not osp.exists(osp.join(seg, 'iter_2.pth'))
    assert not osp.exists(osp.join(seg, 'metrics.json'))
    os.remove(osp.join(work, 'knn', 'knn.json'))  # kNN runs again
    # untrained, COCO scored AP 0: give it a value that shows mmdet's 0-1
    # turned into the paper's %, read again by the skipped stage
    coco_metrics = osp.join(work, 'coco', 'metrics.json')
    metrics = dict(mmengine.load(coco_metrics), **{
        'coco/bbox_mAP': 0.412, 'coco/segm_mAP': 0.375})
    mmengine.dump(metrics, coco_metrics)

    fourth = _call(suite['args'] + [f'knn={KNN_ARGS} --temperature 0'])
    assert fourth.returncode == 1, \
        fourth.stdout[-3000:] + fourth.stderr[-3000:]
    knn_log = osp.join(work, 'knn', 'knn.log')
    assert f'[4/6] knn: FAILED (knn exit 2); log: {knn_log}' in fourth.stdout
    assert 'temperature must be positive' in fourth.stdout
    for stage in ('convert', 'finetune', 'linear', 'coco'):
        assert f'{stage}: skipped, done' in fourth.stdout
    assert 'ade20k: train, resuming from the newest checkpoint' in \
        fourth.stdout
    header = _headers(osp.join(seg, 'train.log'))
    assert len(header) == 2 and ' --resume ' in header[-1]
    with open(osp.join(seg, 'train.log')) as f:
        attempt = f.read().split('=== hpm_mm bench')[-1]
    assert 'resumed epoch: 0, iter: 1' in attempt
    assert osp.isfile(osp.join(seg, 'iter_2.pth'))

    with open(osp.join(work, 'results.json')) as f:
        table = json.load(f)['rows']
    rows = {r['benchmark']: r for r in table}
    assert [r['value'] for r in table if r['benchmark'] == 'coco'] == [
        pytest.approx(41.2), pytest.approx(37.5)]  # box, mask AP in %
    assert rows['knn']['status'] == 'failed'
    assert rows['knn']['log'] == knn_log and rows['knn']['value'] is None
    assert rows['ade20k']['status'] == 'done'
    assert rows['ade20k']['value'] == pytest.approx(
        _expected(work, rows['ade20k']))
    with open(osp.join(work, 'results.md')) as f:
        assert f'knn failed: see `{knn_log}`' in f.read()


# ------------------------------------------------------ arch and dry run --
def _fake_vit(path: str, arch: str) -> str:
    """A released-layout encoder of a standard ViT, every tensor a
    stride-0 view of one zero (the file is a few KB)."""
    zoo = VisionTransformer.arch_zoo[arch]
    c, ffn = zoo['embed_dims'], zoo['feedforward_channels']

    def t(*shape):
        return torch.zeros(1).expand(*shape)

    state = {'patch_embed.proj.weight': t(c, 3, 16, 16),
             'patch_embed.proj.bias': t(c), 'cls_token': t(1, 1, c),
             'pos_embed': t(1, 197, c), 'norm.weight': t(c),
             'norm.bias': t(c)}
    for i in range(zoo['num_layers']):
        for name, shape in (('norm1', (c, )), ('norm2', (c, )),
                            ('attn.qkv', (3 * c, c)), ('attn.proj', (c, c)),
                            ('mlp.fc1', (ffn, c)), ('mlp.fc2', (c, ffn))):
            state[f'blocks.{i}.{name}.weight'] = t(*shape)
            state[f'blocks.{i}.{name}.bias'] = t(shape[0])
    torch.save(dict(state_dict=state, ema_state_dict=state), path)
    return path


def _main(args):
    from .downstream.helpers import load_tool
    return load_tool('run_benchmarks').main(args)


@pytest.mark.parametrize('arch, det', [
    ('b', 'hpm_vit-base-p16_mask-rcnn'), ('l', 'hpm_vit-large-p16_mask-rcnn')
])
def test_dry_run_prints_every_command_and_changes_nothing(
        tmp_path, capsys, arch, det):
    ckpt = _fake_vit(str(tmp_path / 'released.pth'), arch)
    work = str(tmp_path / 'w')
    assert _main([ckpt, '--work-dir', work, '--launcher', 'pytorch',
                  '--gpus', '8', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert not osp.exists(work)
    assert f'tools/dist_train.sh configs/det/{det}' in out
    assert ('tools/dist_test.sh configs/seg/' in out
            and f'"$(cat {work}/ade20k/last_checkpoint)" 8' in out)
    assert f'tools/dist_knn.sh {work}/convert/encoder.pth 8' in out
    assert '--to mmpretrain --source student' in out
    assert ('8xb256-linear' in out) == (arch == 'b')
    if arch == 'l':
        assert 'left out: linear: no ViT-L config' in out
    assert _main([ckpt, '--work-dir', work, '--launcher', 'slurm',
                  '--partition', 'gpu', '--gpus', '16', '--source',
                  'teacher', '--benchmarks', 'coco', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert ('GPUS=16 GPUS_PER_NODE=8 tools/slurm_train.sh gpu hpm-coco '
            f'configs/det/{det}') in out
    assert 'finetune' not in out and not osp.exists(work)


def test_bad_inputs_end_in_one_line(tmp_path, capsys, hpm_tiny_ckpt):
    work = str(tmp_path / 'w')
    assert _main([hpm_tiny_ckpt, '--work-dir', work, '--dry-run']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'neither ViT-B nor ViT-L' in err and 'width 32 and 4' in err
    for bad, message in (
        (['--arch', 'l', '--benchmarks', 'linear'], 'linear: no ViT-L'),
        (['--benchmarks', 'knnn'], "unknown benchmark 'knnn'"),
        (['--data-root', 'imnet=x'], "unknown dataset 'imnet'"),
        (['--cfg-options', 'knn:a=1'], 'knn has no config'),
        (['--launcher', 'slurm'], 'needs --partition'),
    ):
        assert _main([hpm_tiny_ckpt, '--work-dir', work, '--arch', 'b',
                      '--dry-run'] + bad) == 2, bad
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (bad, err)
    assert _main([str(tmp_path / 'none.pth'), '--work-dir', work]) == 2
    assert 'checkpoint not found' in capsys.readouterr().err
    assert not osp.exists(work)


@pytest.fixture
def hpm_tiny_ckpt(tmp_path):
    from .downstream.helpers import save_hpm_checkpoint
    return save_hpm_checkpoint(build_tiny_hpm(distinct_teacher=True),
                               str(tmp_path / 'hpm.pth'))


def _fake(tmp_path, name: str) -> dict:
    """An environment whose ``name`` only records its arguments."""
    fake = tmp_path / 'bin'
    fake.mkdir(exist_ok=True)
    (fake / name).write_text('#!/bin/sh\nprintf "%s\\n" "$@" > '
                             f'{tmp_path}/{name}_args\n')
    (fake / name).chmod(0o755)
    return dict(os.environ, PATH=f'{fake}{os.pathsep}{os.environ["PATH"]}')


def _recorded(tmp_path, name: str) -> List[str]:
    return (tmp_path / f'{name}_args').read_text().split('\n')[:-1]


def test_knn_scripts_start_the_knn_tool(tmp_path):
    """tools/dist_knn.sh and tools/slurm_knn.sh, the kNN stage's launchers,
    hand their arguments to torchrun / srun like the train/test scripts."""
    knn = osp.join(ROOT, 'tools', 'knn_eval.py')
    env = dict(_fake(tmp_path, 'python'), PORT='29533')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_knn.sh'), 'enc.pth', '4',
         '--data-root', 'data/imagenet'],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = _recorded(tmp_path, 'python')
    assert args[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=4' in args and '--master_port=29533' in args
    assert args[args.index(knn):] == [
        knn, 'enc.pth', '--launcher', 'pytorch', '--data-root',
        'data/imagenet']

    env = dict(_fake(tmp_path, 'srun'), GPUS='16', GPUS_PER_NODE='8')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'slurm_knn.sh'), 'gpu', 'hpm-knn',
         'enc.pth', '--out', 'k.json'],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = _recorded(tmp_path, 'srun')
    assert args[:2] == ['-p', 'gpu']
    for flag in ('--job-name=hpm-knn', '--gres=gpu:8', '--ntasks=16',
                 '--ntasks-per-node=8', '--kill-on-bad-exit=1'):
        assert flag in args
    assert args[args.index(knn):] == [
        knn, 'enc.pth', '--launcher', 'slurm', '--out', 'k.json']
    for script in ('dist_knn.sh', 'slurm_knn.sh'):
        proc = subprocess.run(['bash', osp.join(ROOT, 'tools', script), 'x'],
                              capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 2 and 'usage:' in proc.stderr
