"""tools/benchmark.py times the real HPM.loss and reads its phases."""
import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from hpm_mm.models.algorithms.hpm import LOSS_PHASES

from .conftest import ROOT, build_tiny_hpm

#: The names the benchmark and users' profiles rely on.
PHASES = ('hpm.teacher', 'hpm.masker', 'hpm.student', 'hpm.head')


def _benchmark_module():
    path = osp.join(ROOT, 'tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('hpm_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hpm_loss_opens_each_phase_range():
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))
    x = torch.randn(2, 3, 32, 32)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.loss(x, None)
    recorded = {e.key for e in prof.key_averages()}
    for name in PHASES:
        assert name in recorded, name
    assert LOSS_PHASES == PHASES


def test_phase_split_refuses_a_phase_that_is_not_recorded():
    bench = _benchmark_module()
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))
    x = torch.randn(2, 3, 32, 32)
    split = bench.phase_split(lambda: model.loss(x, None), 'cpu',
                              phases=LOSS_PHASES)
    assert set(split) == set(LOSS_PHASES)
    assert all(v > 0 for v in split.values())
    with pytest.raises(RuntimeError, match='hpm.gone'):
        bench.phase_split(lambda: model.loss(x, None), 'cpu',
                          phases=LOSS_PHASES + ('hpm.gone', ))


def test_benchmark_smoke_run_reports_the_split():
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmark.py'), '--arch',
         'deit-tiny', '--img-size', '32', '--batch', '2', '--repeats', '1',
         '--warmup', '0', '--masker-batch', '4', '--threads', '1'],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines()
                if ln.startswith('HPM time split'))
    shares = dict(re.findall(r'(\S+) ([\d.]+)%', line))
    assert set(shares) == set(PHASES) | {'step.backward+optimizer',
                                         'step.ema'}
    assert sum(map(float, shares.values())) == pytest.approx(100, abs=0.5)
    assert re.search(r'^HPM: step +[\d.]+ ms', proc.stdout, re.M)
    assert re.search(r'^MAE: step +[\d.]+ ms', proc.stdout, re.M)
