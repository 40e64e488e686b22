#!/usr/bin/env bash
# Create (or update) the project virtualenv with the pinned stack.
#
# Idempotent: a second run with nothing changed takes seconds. mmcv 2.1.0 has
# no wheel for torch 2.14, so it is built from its sdist with ops (C++20 for
# this torch's headers; CUDA ops when nvcc and a GPU are present) and the
# built wheel is cached per torch version and device flavour, outside the repo.
#
# Environment: VENV (default .venv), PYTHON (default python3.11 or python3),
# HPM_MM_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/hpm_mm).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
req="$root/requirements/stack.txt"
venv="${VENV:-$root/.venv}"
cache="${HPM_MM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpm_mm}"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"

pin() {  # pin NAME -> version pinned in requirements/stack.txt
  local v
  v="$(grep -E "^$1==" "$req" | head -n1 | cut -d= -f3)"
  [ -n "$v" ] || { echo "setup_env: no '$1==' pin in $req" >&2; exit 2; }
  echo "$v"
}
torch_v="$(pin torch)"; tv_v="$(pin torchvision)"; mmcv_v="$(pin mmcv)"
stamp="$venv/.hpm_mm_stamp"
want_stamp="$(sha256sum "$req" "$root/pyproject.toml" | sha256sum | cut -c1-16)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] \
   && "$venv/bin/python" -c "import mmcv.ops, mmdet, mmseg, mmpretrain, hpm_mm" 2>/dev/null; then
  echo "setup_env: $venv is up to date"
  exit 0
fi

[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
vpy="$venv/bin/python"
pipi() { "$vpy" -m pip install --disable-pip-version-check "$@"; }

echo "setup_env: torch $torch_v, torchvision $tv_v"
pipi "torch==$torch_v" "torchvision==$tv_v" "$(grep -E '^setuptools' "$req")" wheel ninja

has_mmcv_ops() { "$vpy" - "$mmcv_v" "$torch_v" <<'PY'
import sys
import importlib.metadata as md
try:
    assert md.version('mmcv') == sys.argv[1]
    import torch
    assert torch.__version__.split('+')[0] == sys.argv[2]
    import mmcv.ops  # noqa: F401  (fails when built for another torch)
except Exception:
    sys.exit(1)
PY
}

if ! has_mmcv_ops; then
  flavour=cpu
  if command -v nvcc >/dev/null 2>&1 && "$vpy" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    flavour=cuda
  fi
  wheel_dir="$cache/wheels/mmcv-$mmcv_v-torch-$torch_v-$flavour"
  whl="$(ls "$wheel_dir"/mmcv-"$mmcv_v"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$whl" ]; then
    echo "setup_env: building mmcv $mmcv_v with $flavour ops for torch $torch_v (about 12 min on 2 cores)"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    "$vpy" -m pip download --no-deps --no-binary :all: --no-cache-dir -d "$work" "mmcv==$mmcv_v"
    tar -xzf "$work"/mmcv-"$mmcv_v".tar.gz -C "$work"
    src="$work/mmcv-$mmcv_v"
    # torch >= 2.9 headers need C++20; mmcv's setup.py hard-codes c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    mkdir -p "$wheel_dir"
    (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=$([ $flavour = cuda ] && echo 1 || echo 0) \
       MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
       "$vpy" -m pip wheel --no-build-isolation --no-deps --no-cache-dir -w "$work/dist" .)
    cp "$work"/dist/mmcv-"$mmcv_v"-*.whl "$wheel_dir"/
    whl="$(ls "$wheel_dir"/mmcv-"$mmcv_v"-*.whl | head -n1)"
  fi
  echo "setup_env: installing $whl"
  pipi --no-cache-dir --force-reinstall --no-deps "$whl"
fi

pipi -r "$req"
pipi --no-deps -e "$root"
"$vpy" -c "import mmcv.ops, mmdet, mmseg, mmpretrain, hpm_mm; print('setup_env: stack OK')"
echo "$want_stamp" > "$stamp"
