"""The README's demo pipeline at a reduced size, and the visualiser."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

from .conftest import ROOT


def run(args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable] + args, capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo')
    proc = run([
        osp.join(ROOT, 'tools', 'demo.py'), '--iters', '6',
        '--crops-per-image', '3', '--work-dir',
        str(tmp / 'out'), '--data-root',
        str(tmp / 'data')
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, proc.stdout


def test_demo_writes_outputs(demo_run):
    tmp, stdout = demo_run
    out = tmp / 'out'
    for name in ('training_curves.png', 'hard_patches.png', 'iter_6.pth'):
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000, name
        assert str(path) in stdout
    with open(out / 'hard_patches.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert 'ranking accuracy on masked patches' in stdout
    # the dataset is ImageNet-format: class folders of JPEGs + ann file
    lines = open(tmp / 'data' / 'meta' / 'train.txt').read().split('\n')
    assert len([ln for ln in lines if ln]) == 3 * 10
    assert len(glob.glob(str(tmp / 'data' / 'train' / '*' / '*.JPEG'))) == 30


def test_visualize_tool_on_demo_checkpoint(demo_run):
    tmp, _ = demo_run
    img = sorted(glob.glob(str(tmp / 'data' / 'train' / '*' / '*.JPEG')))[0]
    out = tmp / 'vis.png'
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_patches.py'),
        osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-demo_cpu.py'),
        str(tmp / 'out' / 'iter_6.pth'), img, img, '--out',
        str(out)
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.stat().st_size > 1000


def test_visualize_tool_bad_inputs(demo_run, tmp_path):
    tmp, _ = demo_run
    cfg = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-demo_cpu.py')
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_patches.py'), cfg,
        str(tmp_path / 'missing.pth'), 'x.jpg'
    ])
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert 'checkpoint not found' in last and 'missing.pth' in last
    mae = osp.join(ROOT, 'configs', 'pretrain', 'mae_vit-b.py')
    img = sorted(glob.glob(str(tmp / 'data' / 'train' / '*' / '*.JPEG')))[0]
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_patches.py'), mae,
        str(tmp / 'out' / 'iter_6.pth'), img
    ])
    assert proc.returncode != 0
    assert 'MAE, not an HPM' in proc.stderr.strip().splitlines()[-1]
