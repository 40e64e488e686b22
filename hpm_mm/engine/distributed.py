"""The end of a distributed run."""
import gc

import torch.distributed as dist


def close_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    The tools call it last, after dropping their Runner (its DDP wrapper
    holds the group too); ``PreemptionHook`` calls it before its exit.
    mmengine never destroys the group. Left to interpreter exit while
    another rank still works (rank 0 writing the last checkpoint), gloo's
    threads are torn down in destructors, and the rank that finished first
    can abort there ("terminate called without an active exception") after
    its work is done: torchrun then reports the job as failed, or restarts
    a finished one.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # a dropped Runner's model wrapper, cycles included
        dist.barrier()
        dist.destroy_process_group()
