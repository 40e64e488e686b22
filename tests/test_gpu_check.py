"""tools/gpu_check.py's CPU rehearsal: every step of the GPU check runs."""
import os
import os.path as osp
import subprocess
import sys

from .conftest import ROOT


def test_gpu_check_dry_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'gpu_check.py'),
         '--dry-run', '--work-dir', str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert 'NMS keeps the same' in out
    assert 'HPM/MAE time ratio' in out and 'HPM time split' in out
    assert 'pre-training (fp32 on the CPU): 2 iterations' in out
    assert 'the teacher moved' in out
    assert 'Mask R-CNN: 2 iterations' in out
    assert 'UperNet: 2 iterations' in out
    assert 'gpu_check: all checks passed' in out
