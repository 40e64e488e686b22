#!/usr/bin/env bash
# kNN evaluation on a Slurm cluster.
#   tools/slurm_knn.sh PARTITION JOB_NAME CHECKPOINT [knn_eval.py options]
# GPUS (total, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and
# SRUN_ARGS come from the environment.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 PARTITION JOB_NAME CHECKPOINT [options]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CHECKPOINT=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2086
PYTHONPATH="$here/..:${PYTHONPATH:-}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$here/knn_eval.py" "$CHECKPOINT" --launcher slurm "$@"
