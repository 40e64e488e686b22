#!/usr/bin/env bash
# Build (or take from the cache) and install mmcv with its C++ ops, CPU or
# CUDA flavour, into a venv. Called by tools/setup_env.sh --full:
#
#   tools/build_mmcv.sh VENV_PYTHON MMCV_VERSION CACHE_DIR
#
# tools/mmcv_build_plan.py decides the flavour (CUDA when torch sees a GPU;
# HPM_MM_MMCV_FLAVOUR=cpu|cuda forces one), the arch list
# (TORCH_CUDA_ARCH_LIST, default: the visible GPUs' capabilities), the
# compiler and the cache key. Without a system nvcc of torch's CUDA
# major.minor, the matching nvcc is installed into the venv from the package
# registry (cuda-toolkit[nvcc,cccl] at the version torch itself pins) and
# CUDA_HOME points at it. Build-time patches of mmcv's sources are listed
# below and in docs/en/gpus.md ("mmcv with CUDA ops"). MAX_JOBS: parallel
# compile jobs (default: number of cores).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: build_mmcv.sh VENV_PYTHON MMCV_VERSION CACHE_DIR" >&2; exit 2; }
vpy="$1" mmcv_v="$2" cache="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pipi() { "$vpy" -m pip install --disable-pip-version-check "$@"; }

plan="$("$vpy" "$here/mmcv_build_plan.py" "$mmcv_v")"
eval "$plan"  # flavour arch_list cuda_root cuda_version cache_key

wheel_dir="$cache/wheels/$cache_key"
whl="$(ls "$wheel_dir"/mmcv-"$mmcv_v"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$whl" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  if [ "$flavour" = cuda ]; then
    site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    top="$cuda_root"
    if [ -z "$top" ]; then
      # torch's CUDA wheels depend on the cuda-toolkit meta-package; its
      # nvcc/cccl extras at the same version bring the matching compiler.
      tk="$("$vpy" -c 'import importlib.metadata as m; print(m.version("cuda-toolkit"))' 2>/dev/null || true)"
      if [ -n "$tk" ]; then
        req="cuda-toolkit[nvcc,cccl]==$tk"
      else
        req="nvidia-cuda-nvcc-cu${cuda_version%%.*}==$cuda_version.*"
      fi
      echo "build_mmcv: no nvcc $cuda_version on this system; installing $req"
      pipi "$req"
      nvcc="$(find "$site/nvidia" -path '*/bin/nvcc' -type f | head -n1)"
      [ -n "$nvcc" ] || { echo "build_mmcv: $req brought no bin/nvcc" >&2; exit 1; }
      top="$(cd "$(dirname "$nvcc")/.." && pwd)"
    fi
    # A CUDA_HOME for torch.utils.cpp_extension: the compiler's bin and nvvm,
    # its headers merged with those of torch's CUDA wheels (cuBLAS, cuSPARSE,
    # cuSOLVER headers that ATen/cuda includes and a minimal system toolkit
    # may lack), and lib64 with an unversioned libcudart.so to link against.
    home="$work/cuda_home"
    mkdir -p "$home/lib64" "$home/include"
    ln -s "$top/bin" "$home/bin"
    [ -d "$top/nvvm" ] && ln -s "$top/nvvm" "$home/nvvm"
    for inc in "$top/include" "$top"/targets/*/include "$site"/nvidia/*/include; do
      [ -d "$inc" ] && cp -rsn "$inc/." "$home/include/" 2>/dev/null || true
    done
    for lib in "$top"/lib64 "$top"/lib "$top"/targets/*/lib "$site"/nvidia/*/lib; do
      [ -d "$lib" ] && cp -rsn "$lib/." "$home/lib64/" 2>/dev/null || true
    done
    if [ ! -e "$home/lib64/libcudart.so" ]; then
      rt="$(ls "$home"/lib64/libcudart.so.* 2>/dev/null | head -n1 || true)"
      [ -n "$rt" ] && ln -s "$(basename "$rt")" "$home/lib64/libcudart.so"
    fi
    export CUDA_HOME="$home" TORCH_CUDA_ARCH_LIST="$arch_list"
    export PATH="$home/bin:$PATH"
  fi
  echo "build_mmcv: building mmcv $mmcv_v with $flavour ops ($cache_key)"
  "$vpy" -m pip download --no-deps --no-binary :all: --no-cache-dir -d "$work" "mmcv==$mmcv_v"
  tar -xzf "$work"/mmcv-"$mmcv_v".tar.gz -C "$work"
  src="$work/mmcv-$mmcv_v"
  # Patch 1 (all flavours): torch >= 2.9 headers need C++20; mmcv's setup.py
  # hard-codes -std=c++17 for both the C++ and the nvcc flags.
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=$([ "$flavour" = cuda ] && echo 1 || echo 0) \
     MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
     "$vpy" -m pip wheel --no-build-isolation --no-deps --no-cache-dir -w "$work/dist" .)
  # Into the cache under a temporary name, then renamed: never half-written.
  mkdir -p "$wheel_dir"
  built="$(ls "$work"/dist/mmcv-"$mmcv_v"-*.whl | head -n1)"
  cp "$built" "$wheel_dir/.$(basename "$built").part"
  mv "$wheel_dir/.$(basename "$built").part" "$wheel_dir/$(basename "$built")"
  whl="$wheel_dir/$(basename "$built")"
fi
# mmcv and mmcv-lite both own site-packages/mmcv: remove both first.
"$vpy" -m pip uninstall --disable-pip-version-check -y -q mmcv mmcv-lite 2>&1 \
  | grep -v 'not installed' || true
echo "build_mmcv: installing $whl"
pipi --no-cache-dir --no-deps "$whl"
# The ops are checked by tools/setup_env.sh once mmcv's own dependencies
# (mmengine, ...) are installed: `import mmcv.ops` needs them.
