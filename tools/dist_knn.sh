#!/usr/bin/env bash
# kNN evaluation on several GPUs (or CPU processes) with torchrun: each
# process encodes a share of the images, rank 0 classifies.
#   tools/dist_knn.sh CHECKPOINT GPUS [knn_eval.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CHECKPOINT GPUS [tools/knn_eval.py options]" >&2
  exit 2
fi
CHECKPOINT=$1
GPUS=$2
shift 2
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
    "$here/knn_eval.py" "$CHECKPOINT" --launcher pytorch "$@"
