#!/usr/bin/env bash
# Multi-GPU (or multi-process CPU) testing with torchrun.
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py options]" >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
here="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$here/..:${PYTHONPATH:-}" \
exec python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$here/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
