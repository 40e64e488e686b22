#!/usr/bin/env bash
# Create (or update) the project virtualenv with the pinned stack, at one of
# two levels:
#
#   tools/setup_env.sh          pre-training (`make demo`, `make setup`):
#                               torch, mmengine, mmpretrain, mmcv-lite (mmcv
#                               without its C++ ops: a pure-Python wheel) and
#                               the demo's scikit-image and matplotlib.
#   tools/setup_env.sh --full   everything (`make test`, `make setup-full`,
#                               CI): mmcv with ops, mmdet, mmsegmentation,
#                               mmaction2 with decord, pytest.
#
# Idempotent: a second run with nothing changed takes seconds, and the full
# level satisfies the pre-training one (after `make test`, `make demo`
# installs nothing). Going from pre-training to full replaces mmcv-lite by
# mmcv (both install the `mmcv` package, so one is removed before the other
# goes in). mmcv 2.1.0 has no wheel for torch 2.14, so the full level builds
# it from its sdist with ops (tools/build_mmcv.sh: CUDA ops when torch sees
# a GPU, HPM_MM_MMCV_FLAVOUR=cpu|cuda forces one) and caches the wheel per
# mmcv version, torch version, flavour and CUDA arch list, outside the repo.
# mmaction2 1.2.0 goes in without its dependencies (requirements/video.txt
# lists those it needs: it asks for opencv-contrib-python, which would
# write a second `cv2` over mmcv's opencv-python), and its wheel lacks
# mmaction/models/localizers/drn, which `import mmaction.models` needs
# (mmaction2 issue 2714): the full level writes a placeholder DRN there that
# refuses to be built, and says so (docs/en/video.md).
#
# Versions come from requirements/*.txt. Environment: VENV (default .venv),
# PYTHON (default python3.11 or python3), HPM_MM_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/hpm_mm), MAX_JOBS, HPM_MM_MMCV_FLAVOUR and
# TORCH_CUDA_ARCH_LIST (mmcv build, see tools/build_mmcv.sh).
set -euo pipefail

level=pretrain
case "${1:-}" in
  '') ;;
  --full) level=full ;;
  -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
  *) echo "setup_env: unknown argument '$1' (none for pre-training, --full for everything)" >&2
     exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
reqs="$root/requirements"
venv="${VENV:-$root/.venv}"
cache="${HPM_MM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpm_mm}"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"

pin() {  # pin FILE NAME -> the version of NAME pinned in requirements/FILE
  local v
  v="$(grep -E "^$2==" "$reqs/$1" | head -n1 | cut -d= -f3)"
  [ -n "$v" ] || { echo "setup_env: no '$2==' pin in requirements/$1" >&2; exit 2; }
  echo "$v"
}
torch_v="$(pin pretrain.txt torch)"; tv_v="$(pin pretrain.txt torchvision)"
mmcv_v="$(pin mmcv.txt mmcv)"; lite_v="$(pin mmcv_lite.txt mmcv-lite)"
if [ "$lite_v" != "$mmcv_v" ]; then
  echo "setup_env: requirements/mmcv_lite.txt pins mmcv-lite $lite_v but requirements/mmcv.txt pins mmcv $mmcv_v" >&2
  exit 2
fi

# What each level must import; the full level satisfies both.
declare -A check=(
  [pretrain]='import mmcv, mmengine, mmpretrain, hpm_mm'
  [full]='import mmcv.ops, mmdet, mmseg, mmaction.models, decord, mmpretrain, hpm_mm, hpm_mm.downstream.det, hpm_mm.downstream.seg, hpm_mm.video'
)
stamp="$venv/.hpm_mm_stamp"  # "LEVEL HASH" of the last successful run
want_hash="$(cat "$reqs"/*.txt "$root/pyproject.toml" "$root/tools/setup_env.sh" \
  "$root/tools/build_mmcv.sh" "$root/tools/mmcv_build_plan.py" | sha256sum | cut -c1-16)"
have_level='' have_hash=''
[ -f "$stamp" ] && read -r have_level have_hash < "$stamp" || true
if [ "$have_hash" = "$want_hash" ] && { [ "$have_level" = full ] || [ "$have_level" = "$level" ]; } \
   && "$venv/bin/python" -c "${check[$level]}" 2>/dev/null \
   && { [ "$level" = pretrain ] \
        || "$venv/bin/python" tools/mmcv_build_plan.py "$mmcv_v" --check-installed; }; then
  echo "setup_env: $venv is up to date ($have_level)"
  exit 0
fi

[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
vpy="$venv/bin/python"
pipi() { "$vpy" -m pip install --disable-pip-version-check "$@"; }

mmcv_state() {  # -> ops | lite | none, for the pinned mmcv and torch
  "$vpy" - "$mmcv_v" "$torch_v" <<'PY'
import importlib.metadata as md
import sys


def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


want_mmcv, want_torch = sys.argv[1:]
full, lite = version('mmcv'), version('mmcv-lite')
state = 'none'
if full == want_mmcv and lite is None:
    try:
        import torch
        assert torch.__version__.split('+')[0] == want_torch
        import mmcv.ops  # noqa: F401  (fails when built for another torch)
        state = 'ops'
    except Exception:
        pass
elif lite == want_mmcv and full is None:
    state = 'lite'
print(state)
PY
}
remove_mmcv() {  # mmcv and mmcv-lite both own site-packages/mmcv
  local dists
  dists="$("$vpy" -m pip list --disable-pip-version-check 2>/dev/null \
    | awk '$1 == "mmcv" || $1 == "mmcv-lite" {print $1}' | tr '\n' ' ')"
  [ -n "$dists" ] || return 0
  echo "setup_env: removing $dists(replaced by the mmcv this level needs)"
  "$vpy" -m pip uninstall --disable-pip-version-check -y -q $dists
}

repair_mmaction() {  # write the module mmaction2 1.2.0's wheel lacks
  local pkg drn
  pkg="$("$vpy" -c 'import importlib.util as u; print(u.find_spec("mmaction").submodule_search_locations[0])')"
  drn="$pkg/models/localizers/drn"
  [ -f "$drn/drn.py" ] && return 0
  echo "setup_env: mmaction2's wheel lacks mmaction/models/localizers/drn (mmaction2 issue 2714);" \
       "writing a placeholder DRN to $drn so that mmaction.models imports"
  mkdir -p "$drn"
  echo '# Written by hpm_mm: tools/setup_env.sh (see drn.py).' > "$drn/__init__.py"
  cat > "$drn/drn.py" <<'PY'
"""Placeholder written by hpm_mm's tools/setup_env.sh.

mmaction2 1.2.0's wheel and sdist lack this module, which
mmaction/models/localizers/__init__.py imports (mmaction2 issue 2714), so
`import mmaction.models` fails without it. The DRN localizer itself is not
available: building it raises.
"""
from mmaction.registry import MODELS


@MODELS.register_module()
class DRN:

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'DRN: mmaction2 1.2.0 ships without mmaction/models/localizers/'
            "drn (mmaction2 issue 2714); hpm_mm's set-up wrote a placeholder")
PY
}

echo "setup_env: $level level in $venv (torch $torch_v, mmcv $mmcv_v)"
if [ "$level" = pretrain ]; then
  mmcv_req=()
  if [ "$(mmcv_state)" = none ]; then
    remove_mmcv
    mmcv_req=(-r "$reqs/mmcv_lite.txt")
  fi
  pipi -r "$reqs/pretrain.txt" "${mmcv_req[@]}"
else
  pipi "torch==$torch_v" "torchvision==$tv_v" "$(grep -E '^setuptools' "$reqs/pretrain.txt")" wheel ninja
  if [ "$(mmcv_state)" != ops ] || ! "$vpy" tools/mmcv_build_plan.py "$mmcv_v" --check-installed; then
    bash tools/build_mmcv.sh "$vpy" "$mmcv_v" "$cache"
  fi
  pipi -r "$reqs/pretrain.txt" -r "$reqs/mmcv.txt" -r "$reqs/det.txt" -r "$reqs/seg.txt" \
       -r "$reqs/tests.txt"
  "$vpy" tools/mmcv_build_plan.py "$mmcv_v" --check-installed || {
    echo "setup_env: the installed mmcv lacks the planned ops (tools/build_mmcv.sh)" >&2
    exit 1; }
  pipi --no-deps -r "$reqs/video.txt"
  repair_mmaction
fi

pipi --no-deps --no-build-isolation -e "$root"
"$vpy" -c "${check[$level]}; print('setup_env: $level stack OK')"
# Written under a temporary name and renamed (a hard-linked copy of the
# venv keeps its own stamp).
echo "$level $want_hash" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
