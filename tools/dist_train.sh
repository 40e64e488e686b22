#!/usr/bin/env bash
# Multi-GPU (or multi-process CPU) training with torchrun.
#   tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
# MAX_RESTARTS=N (default 0): when a process dies (killed, out of memory, a
# lost node), torchrun stops the others and starts the group again, up to N
# times; a restarted group resumes from the newest readable checkpoint of
# the work dir by itself (no --resume needed).
# On SIGTERM/SIGUSR1 the processes finish the iteration, save a checkpoint
# and exit with status 75 (see PreemptionHook).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MAX_RESTARTS=${MAX_RESTARTS:-0}
if ! [[ $MAX_RESTARTS =~ ^[0-9]+$ ]]; then
  echo "$0: error: MAX_RESTARTS must be a whole number, got '$MAX_RESTARTS'" >&2
  exit 2
fi
if [ "$MAX_RESTARTS" -gt 0 ]; then
  # A restarted group must not find the addresses of the dead one: the
  # static rendezvous keeps one store for all attempts, and so does the c10d
  # rendezvous (hosted at MASTER_ADDR:PORT) unless told not to share it with
  # the workers; then each attempt's processes start a store of their own.
  # Ranks are assigned at the rendezvous: NODE_RANK is not used.
  export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1
  RDZV=(--rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$PORT"
        --rdzv-id="${RDZV_ID:-hpm_mm}" --max-restarts="$MAX_RESTARTS")
else
  RDZV=(--node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR"
        --master_port="$PORT")
fi
here="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$here/..:${PYTHONPATH:-}" \
exec python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --nproc_per_node="$GPUS" \
    "${RDZV[@]}" \
    "$here/train.py" "$CONFIG" --launcher pytorch "$@"
