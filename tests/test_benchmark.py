"""tools/benchmark.py: the real train_step, its phases read from outside."""
import os
import re
import subprocess
import sys

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from .conftest import ROOT, TINY_IMG, build_tiny_hpm
from .downstream.helpers import load_tool

bench = load_tool('benchmark')


def _step(alpha: float):
    model = build_tiny_hpm(masker=dict(fixed_alpha=alpha))
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3),
        clip_grad=dict(max_norm=5.0)))
    data = dict(inputs=torch.rand(2, 3, TINY_IMG, TINY_IMG) * 255,
                data_samples=None)
    return model, lambda: model.train_step(data, wrapper)


def test_split_covers_every_phase_of_the_real_step():
    model, step = _step(alpha=0.5)
    split = bench.phase_split(model, step, 'cpu', repeats=2)
    assert tuple(split) == bench.PHASES + ('rest', )
    assert all(v > 0 for v in split.values()), split  # rest: backward etc.


def test_a_phase_that_runs_nothing_is_an_error():
    model, step = _step(alpha=0.0)  # no patch mined: the teacher is idle
    with pytest.raises(RuntimeError, match='no time recorded for teacher$'):
        bench.phase_split(model, step, 'cpu')


def test_the_ranges_leave_the_model_as_it_was():
    model, step = _step(alpha=0.5)
    bench.phase_split(model, step, 'cpu')
    parts = (model, model.masker, model.backbone, model.neck,
             model.teacher.module.backbone)
    assert not any(set(vars(m)) & {'forward', 'train_step', 'loss'}
                   for m in parts)  # no method replaced
    with torch.profiler.profile() as prof:
        step()
    assert not {e.name for e in prof.events()} & set(bench.PHASES)


def test_amp_on_the_cpu_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(['--device', 'cpu', '--amp'])
    assert '--amp needs --device cuda' in capsys.readouterr().err


def test_benchmark_smoke_run_reports_speed_split_and_masker():
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--arch', 'deit-tiny',
         '--img-size', '32', '--batch', '2', '--repeats', '1', '--warmup',
         '0', '--masker-batch', '4', '--threads', '1', '--device', 'cpu'],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for model in ('HPM', 'MAE'):
        assert re.search(rf'^{model}: step +[\d.]+ ms +[\d.]+ images/s',
                         out, re.M), out
    line = next(ln for ln in out.splitlines()
                if ln.startswith('HPM time split'))
    shares = dict(re.findall(r'(\w+) ([\d.]+)%', line))
    assert tuple(shares) == bench.PHASES + ('rest', )
    assert sum(map(float, shares.values())) == pytest.approx(100, abs=0.5)
    assert re.search(r'^masker at batch 4: [\d.]+ ms$', out, re.M)
