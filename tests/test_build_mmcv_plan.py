"""tools/mmcv_build_plan.py: the flavour, arch list, compiler and cache key of
the mmcv build, decided without building anything."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    'mmcv_build_plan', osp.join(ROOT, 'tools', 'mmcv_build_plan.py'))
mbp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mbp)

H200 = [(9, 0)]
SYSTEM_13 = {'/usr/local/cuda-13.0': '13.0'}


def plan(env=None, torch_cuda='13.0', caps=H200, roots=SYSTEM_13):
    return mbp.plan(
        env or {},
        mmcv_version='2.1.0',
        torch_version='2.14.1',
        torch_cuda=torch_cuda,
        gpu_capabilities=caps,
        cuda_roots=roots)


def test_auto_flavour_follows_the_visible_gpu():
    gpu = plan()
    assert gpu['flavour'] == 'cuda'
    assert gpu['arch_list'] == '9.0'
    assert gpu['cache_key'] == 'mmcv-2.1.0-torch-2.14.1-cuda-sm90'
    for no_gpu in (plan(caps=[]), plan(torch_cuda=None, caps=[])):
        assert no_gpu['flavour'] == 'cpu'
        assert no_gpu['cache_key'] == 'mmcv-2.1.0-torch-2.14.1-cpu'
        assert no_gpu['arch_list'] == no_gpu['cuda_root'] == ''


def test_arch_list_defaults_to_the_gpus_and_can_be_set():
    mixed = plan(caps=[(9, 0), (8, 0), (9, 0)])
    assert mixed['arch_list'] == '8.0;9.0'
    assert mixed['cache_key'].endswith('-cuda-sm80-sm90')
    forced = plan({'TORCH_CUDA_ARCH_LIST': '9.0+PTX 8.6'})
    assert forced['arch_list'] == '8.6;9.0+PTX'
    assert forced['cache_key'].endswith('-cuda-sm86-sm90ptx')
    with pytest.raises(mbp.PlanError, match='bad entry'):
        plan({'TORCH_CUDA_ARCH_LIST': 'hopper'})


def test_flavour_override():
    cpu = plan({'HPM_MM_MMCV_FLAVOUR': 'cpu'})
    assert cpu['flavour'] == 'cpu' and cpu['cache_key'].endswith('-cpu')
    # compiling needs no GPU, only an arch list
    cuda = plan({'HPM_MM_MMCV_FLAVOUR': 'CUDA',
                 'TORCH_CUDA_ARCH_LIST': '9.0'}, caps=[])
    assert cuda['flavour'] == 'cuda' and cuda['arch_list'] == '9.0'
    with pytest.raises(mbp.PlanError, match='TORCH_CUDA_ARCH_LIST'):
        plan({'HPM_MM_MMCV_FLAVOUR': 'cuda'}, caps=[])
    with pytest.raises(mbp.PlanError, match='CPU build'):
        plan({'HPM_MM_MMCV_FLAVOUR': 'cuda',
              'TORCH_CUDA_ARCH_LIST': '9.0'}, torch_cuda=None)
    with pytest.raises(mbp.PlanError, match='cpu, cuda or auto'):
        plan({'HPM_MM_MMCV_FLAVOUR': 'rocm'})


def test_system_nvcc_only_when_it_matches_torchs_cuda():
    assert plan()['cuda_root'] == '/usr/local/cuda-13.0'
    assert plan(torch_cuda='13.0.2')['cuda_version'] == '13.0'
    # first matching toolkit wins; a 12.8 toolkit is skipped
    roots = {'/opt/cuda-12.8': '12.8', '/usr/local/cuda-13.0': '13.0'}
    assert plan(roots=roots)['cuda_root'] == '/usr/local/cuda-13.0'
    # no matching one: empty, build_mmcv.sh installs nvcc from the registry
    assert plan(roots={'/opt/cuda-12.8': '12.8'})['cuda_root'] == ''
    assert plan(roots={})['cuda_root'] == ''


def test_find_cuda_roots_reads_nvcc_release(tmp_path):
    root = tmp_path / 'cuda'
    (root / 'bin').mkdir(parents=True)
    (root / 'include').mkdir()
    (root / 'include' / 'cuda_runtime.h').write_text('')
    nvcc = root / 'bin' / 'nvcc'
    nvcc.write_text('#!/bin/sh\necho "Cuda compilation tools, release 13.0, '
                    'V13.0.88"\n')
    nvcc.chmod(0o755)
    env = {'CUDA_HOME': str(root)}
    found = mbp.find_cuda_roots(env)
    assert list(found.items())[0] == (os.path.realpath(root), '13.0')
    # a wrapper without the toolkit's headers next to it is no toolkit
    (root / 'include' / 'cuda_runtime.h').unlink()
    assert os.path.realpath(root) not in mbp.find_cuda_roots(env)


def test_cli_prints_shell_assignments():
    env = dict(os.environ, HPM_MM_MMCV_FLAVOUR='cpu')
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'mmcv_build_plan.py'),
         '2.1.0'], env=env, capture_output=True, text=True, check=True)
    lines = dict(line.split('=', 1) for line in out.stdout.splitlines())
    assert lines['flavour'] == 'cpu'
    assert lines['cache_key'].startswith('mmcv-2.1.0-torch-')
    bad = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'mmcv_build_plan.py'),
         '2.1.0'], env=dict(env, HPM_MM_MMCV_FLAVOUR='gpu'),
        capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "build_mmcv: HPM_MM_MMCV_FLAVOUR must be cpu, cuda or auto, got "
        "'gpu'"]
