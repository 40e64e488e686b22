#!/usr/bin/env bash
# Training on a Slurm cluster.
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py options]
# GPUS (total, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and
# SRUN_ARGS come from the environment.
#
# Preemption and time limits: with REQUEUE=1 the run is submitted as a
# batch job, `sbatch --requeue --signal=USR1@SIGNAL_TIME` (SIGNAL_TIME:
# seconds before the time limit, default 120; SBATCH_ARGS: more sbatch
# options, e.g. "--time=24:00:00"), and this command returns at once; the
# output goes to JOB_NAME-<job id>.out, appended across requeues. On
# SIGUSR1 (the time limit is near) or SIGTERM (preemption), training
# finishes its iteration, saves a checkpoint and exits with status 75; the
# job then puts itself back in the queue (scontrol requeue). A job that
# Slurm preempts with PreemptMode=REQUEUE is requeued by Slurm. A requeued
# job (SLURM_RESTART_COUNT > 0) resumes from the newest readable checkpoint
# of the work dir by itself. Inside a batch job of your own, REQUEUE=1 runs
# the training step there and requeues that job on status 75.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [options]" >&2
  exit 2
fi
ALL_ARGS=("$@")
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR_ARGS=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  WORK_DIR_ARGS=(--work-dir "$1")
  shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
REQUEUE=${REQUEUE:-0}
SIGNAL_TIME=${SIGNAL_TIME:-120}
SBATCH_ARGS=${SBATCH_ARGS:-}
PREEMPTED=75  # tools/train.py's status after a preemption checkpoint
# sbatch runs a copy of this script: it finds the repository through
# HPM_TOOLS_DIR
here=${HPM_TOOLS_DIR:-"$(cd "$(dirname "$0")" && pwd)"}
TRAIN=(python -u "$here/train.py" "$CONFIG" "${WORK_DIR_ARGS[@]}"
       --launcher slurm "$@")

if [ "$REQUEUE" != 1 ]; then
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
      "${TRAIN[@]}"
fi

if [ -z "${SLURM_JOB_ID:-}" ]; then  # submit; the job runs the branch below
  NODES=$(( (GPUS + GPUS_PER_NODE - 1) / GPUS_PER_NODE ))
  # shellcheck disable=SC2086
  HPM_TOOLS_DIR="$here" \
  exec sbatch -p "$PARTITION" \
      --job-name="$JOB_NAME" \
      --requeue \
      --signal=USR1@"$SIGNAL_TIME" \
      --open-mode=append \
      --output="$JOB_NAME-%j.out" \
      --nodes="$NODES" \
      --gres=gpu:"$GPUS_PER_NODE" \
      --ntasks="$GPUS" \
      --ntasks-per-node="$GPUS_PER_NODE" \
      --cpus-per-task="$CPUS_PER_TASK" \
      $SBATCH_ARGS \
      "$here/slurm_train.sh" "${ALL_ARGS[@]}"
fi

# In the batch job. Slurm sends SIGTERM to this shell too: it must outlive
# the training step, which is saving its checkpoint.
trap 'echo "slurm_train.sh: SIGTERM: waiting for training to save" >&2' TERM
echo "slurm_train.sh: job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}" >&2
rc=0
# shellcheck disable=SC2086
PYTHONPATH="$here/..:${PYTHONPATH:-}" \
srun --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "${TRAIN[@]}" || rc=$?
if [ "$rc" = "$PREEMPTED" ]; then
  echo "slurm_train.sh: training saved a checkpoint and stopped;" \
       "requeueing job $SLURM_JOB_ID" >&2
  scontrol requeue "$SLURM_JOB_ID" && exit 0
  echo "slurm_train.sh: scontrol requeue $SLURM_JOB_ID failed" >&2
fi
exit "$rc"
