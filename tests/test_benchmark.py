"""The step cost of tools/benchmark.py: the real HPM.loss, phases read
from the outside (hpm_mm.profiling)."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from hpm_mm.profiling import PHASES, instrument_phases, phase_split, train_step

from .conftest import ROOT, build_tiny_hpm


def _step(model):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.0)
    x = torch.randn(2, 3, 32, 32)
    return lambda: train_step(model, opt, x)


def test_instrumented_model_records_each_phase():
    model = instrument_phases(build_tiny_hpm(masker=dict(fixed_alpha=0.5)))
    split = phase_split(_step(model), 'cpu')
    assert tuple(split) == PHASES
    assert all(v > 0 for v in split.values())


def test_only_the_instrumented_instance_records():
    """The ranges live on one model: its class and other models are clean."""
    instrument_phases(build_tiny_hpm(masker=dict(fixed_alpha=0.5)))
    other = build_tiny_hpm(masker=dict(fixed_alpha=0.5))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        other.loss(torch.randn(2, 3, 32, 32), None)
    assert not {e.key for e in prof.key_averages()} & set(PHASES)


def test_phase_split_refuses_a_phase_that_is_not_recorded():
    model = instrument_phases(build_tiny_hpm(masker=dict(fixed_alpha=0.5)))
    with pytest.raises(RuntimeError, match='hpm.gone'):
        phase_split(_step(model), 'cpu', phases=PHASES + ('hpm.gone', ))


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
    assert set(shares) == set(PHASES)
    assert sum(map(float, shares.values())) == pytest.approx(100, abs=0.5)
    assert re.search(r'^HPM: step +[\d.]+ ms', proc.stdout, re.M)
    assert re.search(r'^MAE: step +[\d.]+ ms', proc.stdout, re.M)
