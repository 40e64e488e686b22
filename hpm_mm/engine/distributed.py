"""The end of a distributed run."""
import gc

import torch.distributed as dist


def close_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    mmengine never destroys it. Left to interpreter exit while another rank
    still works (rank 0 writing the last checkpoint), gloo's threads are
    torn down in destructors, and the rank that finished first can abort
    there after its work is done ("terminate called without an active
    exception"): torchrun then reports a failed job, or restarts it. The
    tools call this last, after dropping their Runner; ``PreemptionHook``
    before its exit.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # a dropped Runner's DDP wrapper holds the group too
        dist.barrier()
        dist.destroy_process_group()
