"""Decide how tools/build_mmcv.sh builds mmcv's ops: flavour, CUDA arches,
compiler and wheel cache key.

Run with the venv's python (torch installed); prints shell assignments for
``eval``::

    flavour=cuda
    arch_list='8.0;9.0'
    cuda_root=/usr/local/cuda-13.0    # empty: install nvcc from the registry
    cuda_version=13.0                  # torch's CUDA major.minor
    cache_key=mmcv-2.1.0-torch-2.14.1-cuda-sm80-sm90

Rules (docs/en/gpus.md, "mmcv with CUDA ops"):

- ``HPM_MM_MMCV_FLAVOUR=cpu|cuda`` forces the flavour; unset (or ``auto``)
  builds CUDA ops exactly when torch is a CUDA build and sees a GPU.
- ``TORCH_CUDA_ARCH_LIST`` (e.g. ``'8.0;9.0'``) is used as given; unset, it is
  the compute capabilities of the visible GPUs.
- A system CUDA toolkit (``$CUDA_HOME``, ``$CUDA_PATH``, ``/usr/local/cuda``
  or the one of the ``nvcc`` on ``PATH``) is used when its ``nvcc`` release
  equals torch's CUDA major.minor; otherwise the caller installs the
  matching compiler from the package registry.
- The cache key names mmcv, torch, the flavour and the arch list, so a wheel
  is never reused for another flavour or another set of GPUs.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List, Mapping, Optional

FLAVOUR_VAR = 'HPM_MM_MMCV_FLAVOUR'


class PlanError(ValueError):
    """A setting that makes the build impossible (one-line message)."""


def normalise_arch_list(arch_list: str) -> str:
    """``'9.0 8.0;8.0+PTX'`` -> ``'8.0;8.0+PTX;9.0'``: sorted, deduplicated.

    Raises:
        PlanError: An entry that is not ``X.Y`` or ``X.Y+PTX``.
    """
    items = [a for a in re.split(r'[;\s,]+', arch_list.strip()) if a]
    for a in items:
        if not re.fullmatch(r'\d+\.\d+a?(\+PTX)?', a):
            raise PlanError(
                f'TORCH_CUDA_ARCH_LIST: bad entry {a!r} in {arch_list!r} '
                "(want e.g. '8.0;9.0' or '9.0+PTX')")
    if not items:
        raise PlanError('TORCH_CUDA_ARCH_LIST is set but empty')

    def key(a: str):
        major, minor = a.split('+')[0].rstrip('a').split('.')
        return int(major), int(minor), a

    return ';'.join(sorted(set(items), key=key))


def plan(env: Mapping[str, str], *, mmcv_version: str, torch_version: str,
         torch_cuda: Optional[str], gpu_capabilities: List[tuple],
         cuda_roots: Mapping[str, str]) -> Dict[str, str]:
    """The build plan from the environment and what torch and nvcc report.

    Args:
        env (Mapping[str, str]): Environment variables.
        mmcv_version (str): The pinned mmcv version.
        torch_version (str): torch's version without local suffix.
        torch_cuda (str, optional): ``torch.version.cuda`` (None for a CPU
            build of torch).
        gpu_capabilities (list[tuple]): (major, minor) of each visible GPU.
        cuda_roots (Mapping[str, str]): System CUDA toolkits found, in
            order of preference, each mapped to its nvcc's release
            (``'13.0'``).

    Returns:
        dict[str, str]: ``flavour``, ``arch_list``, ``cuda_root``,
        ``cuda_version`` and ``cache_key`` (empty strings where unused).

    Raises:
        PlanError: On a bad or impossible setting.
    """
    forced = env.get(FLAVOUR_VAR, '').strip().lower()
    if forced not in ('', 'auto', 'cpu', 'cuda'):
        raise PlanError(f'{FLAVOUR_VAR} must be cpu, cuda or auto, got '
                        f'{env[FLAVOUR_VAR]!r}')
    if forced in ('', 'auto'):
        flavour = 'cuda' if torch_cuda and gpu_capabilities else 'cpu'
    else:
        flavour = forced
    out = dict(flavour=flavour, arch_list='', cuda_root='', cuda_version='',
               cache_key=f'mmcv-{mmcv_version}-torch-{torch_version}-'
               f'{flavour}')
    if flavour == 'cpu':
        return out
    if not torch_cuda:
        raise PlanError(f'{FLAVOUR_VAR}=cuda but torch {torch_version} is a '
                        'CPU build (torch.version.cuda is None)')
    cuda_version = '.'.join(torch_cuda.split('.')[:2])
    if env.get('TORCH_CUDA_ARCH_LIST', '').strip():
        arch_list = normalise_arch_list(env['TORCH_CUDA_ARCH_LIST'])
    elif gpu_capabilities:
        arch_list = normalise_arch_list(';'.join(
            f'{a}.{b}' for a, b in gpu_capabilities))
    else:
        raise PlanError(f'{FLAVOUR_VAR}=cuda without a visible GPU: set '
                        "TORCH_CUDA_ARCH_LIST, e.g. '8.0;9.0'")
    arch_tag = '-'.join('sm' + a.replace('.', '').replace('+PTX', 'ptx')
                        for a in arch_list.split(';'))
    out.update(
        arch_list=arch_list,
        cuda_version=cuda_version,
        cuda_root=next((root for root, release in cuda_roots.items()
                        if release == cuda_version), ''),
        cache_key=f'{out["cache_key"]}-{arch_tag}')
    return out


def nvcc_release(nvcc: str) -> Optional[str]:
    """'major.minor' that ``nvcc --version`` reports, None if it cannot run."""
    try:
        text = subprocess.run([nvcc, '--version'], capture_output=True,
                              text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'release (\d+\.\d+)', text)
    return m.group(1) if m else None


def find_cuda_roots(env: Mapping[str, str]) -> Dict[str, str]:
    """System CUDA toolkits (root -> nvcc release), most preferred first."""
    candidates = [env.get('CUDA_HOME'), env.get('CUDA_PATH'),
                  '/usr/local/cuda']
    on_path = shutil.which('nvcc')
    if on_path:
        candidates.append(
            os.path.dirname(os.path.dirname(os.path.realpath(on_path))))
    roots = {}
    for root in filter(None, candidates):
        root = os.path.realpath(root)
        nvcc = os.path.join(root, 'bin', 'nvcc')
        headers = glob.glob(os.path.join(root, 'include', 'cuda_runtime.h'))
        headers += glob.glob(
            os.path.join(root, 'targets', '*', 'include', 'cuda_runtime.h'))
        if root not in roots and headers and os.access(nvcc, os.X_OK):
            release = nvcc_release(nvcc)
            if release:
                roots[root] = release
    return roots


def installed_flavour() -> str:
    """'cuda', 'cpu' (ops without CUDA) or 'none' for the installed mmcv."""
    try:
        from mmcv.ops import get_compiling_cuda_version
    except Exception:  # mmcv-lite, no mmcv, or ops built for another torch
        return 'none'
    return 'cpu' if get_compiling_cuda_version() == 'not available' \
        else 'cuda'


def main(argv: List[str]) -> int:
    if len(argv) not in (1, 2) or argv[1:] not in ([], ['--check-installed']):
        print('usage: mmcv_build_plan.py MMCV_VERSION [--check-installed]',
              file=sys.stderr)
        return 2
    import torch
    caps = []
    if torch.cuda.is_available():
        caps = [torch.cuda.get_device_capability(i)
                for i in range(torch.cuda.device_count())]
    try:
        result = plan(
            os.environ,
            mmcv_version=argv[0],
            torch_version=torch.__version__.split('+')[0],
            torch_cuda=torch.version.cuda,
            gpu_capabilities=caps,
            cuda_roots=find_cuda_roots(os.environ)
            if argv[1:] == [] else {})
    except PlanError as e:
        print(f'build_mmcv: {e}', file=sys.stderr)
        return 2
    if argv[1:]:
        # exit 0 when the installed mmcv has the planned ops (a CUDA build
        # also serves the CPU flavour)
        have = installed_flavour()
        return 0 if have == 'cuda' or have == result['flavour'] else 1
    for k, v in result.items():
        print(f'{k}={shlex.quote(v)}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
