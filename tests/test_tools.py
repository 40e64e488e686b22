"""OpenMMLab entry points: mmpretrain's own train.py (= `mim train
mmpretrain`), our train.py's --auto-scale-lr and our dist_train.sh with 2
CPU processes."""
import glob
import os
import os.path as osp
import subprocess
import sys

import mmpretrain
import pytest

from .conftest import ROOT, load_ckpt, write_tiny_config


def _env():
    # no PYTHONPATH to the repo: hpm_mm must come from the installed package
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    return env


def test_mmpretrain_train_script_uses_custom_imports(tiny_imagenet,
                                                    tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet)
    script = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                      'train.py')
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, script, cfg, '--work-dir',
         str(work)],
        capture_output=True, text=True, env=_env(), timeout=600,
        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = load_ckpt(str(work / 'epoch_2.pth'))
    assert int(ckpt['state_dict']['teacher.steps']) == 4


def test_mim_route_trains_the_cpu_demo_config(tiny_imagenet, tmp_path):
    """`mim train mmpretrain configs/pretrain/hpm_vit-demo_cpu.py` runs
    mmpretrain's tools/train.py on the config as it is: no AMP swap there,
    so the config itself must not ask for AMP on a CPU."""
    script = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                      'train.py')
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, script,
         osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-demo_cpu.py'),
         '--work-dir', str(work), '--cfg-options',
         f'train_dataloader.dataset.data_root={tiny_imagenet}',
         'train_dataloader.batch_size=4', 'train_cfg.max_iters=1'],
        capture_output=True, text=True, env=_env(), timeout=600,
        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = load_ckpt(str(work / 'iter_1.pth'))
    assert int(ckpt['state_dict']['teacher.steps']) == 1


def test_auto_scale_lr_counts_gradient_accumulation(tiny_imagenet,
                                                    tmp_path):
    """The PRETRAIN.md rule: 8 GPUs x 32 x accumulation 8 = 2048 images
    per step at base lr 1.5e-4 per 256 give 1.2e-3. Here 1 process x 4 x
    accumulation 8 = 32 images at 1.5e-4 per 4 give the same 8x."""
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                            batch_size=4)
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
         '--work-dir', str(work), '--auto-scale-lr', '--cfg-options',
         'optim_wrapper.optimizer.lr=1.5e-4',
         'auto_scale_lr.base_batch_size=4',
         'optim_wrapper.accumulative_counts=8'],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path),
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    groups = load_ckpt(str(work / 'epoch_2.pth'))['optimizer']['param_groups']
    # the lr the optimizer was built with, before the schedulers' factors
    assert [g['initial_lr'] for g in groups] == pytest.approx(
        [1.2e-3] * len(groups), rel=1e-6)


def test_dist_train_two_cpu_processes(tiny_imagenet, tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                            batch_size=2)
    work = tmp_path / 'work'
    env = dict(_env(), PORT='29517', OMP_NUM_THREADS='1',
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ['PATH'])  # as with an activated venv
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2',
         '--work-dir', str(work)],
        capture_output=True, text=True, env=env, timeout=600,
        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "backend': 'gloo'" in log
    # 8 images, 2 per process and step, 2 processes: 2 steps per epoch
    assert 'Epoch(train) [2][2/2]' in log
    ckpt = load_ckpt(str(work / 'epoch_2.pth'))
    assert int(ckpt['state_dict']['teacher.steps']) == 4


def test_slurm_train_builds_the_srun_command(tmp_path):
    """tools/slurm_train.sh with a stand-in srun that records its args."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'srun').write_text('#!/bin/sh\nprintf "%s\\n" "$@" > '
                               f'{tmp_path}/srun_args\n')
    (fake / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{fake}{os.pathsep}{os.environ["PATH"]}',
               GPUS='16', GPUS_PER_NODE='8')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'slurm_train.sh'), 'gpu', 'hpm',
         'configs/pretrain/hpm_vit-b.py', 'work_dirs/x', '--resume'],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = (tmp_path / 'srun_args').read_text().split('\n')
    assert args[:2] == ['-p', 'gpu']
    for flag in ('--job-name=hpm', '--gres=gpu:8', '--ntasks=16',
                 '--ntasks-per-node=8', '--kill-on-bad-exit=1'):
        assert flag in args
    i = args.index('-u')
    assert args[i + 1] == osp.join(ROOT, 'tools', 'train.py')
    assert args[i + 2:i + 8] == [
        'configs/pretrain/hpm_vit-b.py', '--work-dir', 'work_dirs/x',
        '--launcher', 'slurm', '--resume'
    ]
