"""Work-arounds for known breakages of the pinned OpenMMLab stack.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch
2.6 that means ``weights_only=True`` and resuming an mmengine checkpoint
fails on the objects its meta holds (``HistoryBuffer``, numpy arrays and
scalars, and ``getattr(HistoryBuffer, 'min')``-style references to its
statistics methods). Rather than switching the safe unpickler off, the few
types an mmengine checkpoint legitimately contains are added to torch's
allow-list, and ``getattr`` is replaced, for the unpickler only, by a
version that returns nothing but those statistics methods; a checkpoint
still cannot run arbitrary code.
"""
import pickle
from typing import Any

import numpy as np
import torch


def _numpy_globals() -> list:
    """Numpy types that pickled arrays and scalars reference."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    found = [_reconstruct, scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return found


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as the unpickler may call it: HistoryBuffer methods only."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}): refused, only '
        'HistoryBuffer statistics methods are allowed')


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine checkpoints."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 does not load weights-only by default
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the built-in statistics methods
    add([HistoryBuffer] + _numpy_globals() +
        [(_history_buffer_getattr, 'builtins.getattr')])


def allow_cpu_distributed() -> None:
    """Let mmengine's pytorch launcher start on machines without a GPU.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` unconditionally when it
    initialises a ``torchrun`` job. Without CUDA (and without another
    accelerator) the process group is now started directly, on gloo if the
    config asked for NCCL, which needs GPUs.
    """
    import mmengine.dist.utils as dist_utils
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    original = dist_utils._init_dist_pytorch
    if getattr(original, 'hpm_mm_cpu', False):
        return

    def init_dist_pytorch(backend: str = 'nccl',
                          init_backend: str = 'torch',
                          **kwargs) -> None:
        accelerated = (torch.cuda.is_available() or is_npu_available()
                       or is_mlu_available() or is_musa_available())
        if accelerated or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        torch.distributed.init_process_group(
            backend='gloo' if backend == 'nccl' else backend, **kwargs)

    init_dist_pytorch.hpm_mm_cpu = True
    dist_utils._init_dist_pytorch = init_dist_pytorch


def save_checkpoints_atomically() -> None:
    """Make the Runner write each local checkpoint to a temporary name first.

    A crash (or SIGKILL) while saving then leaves the previous checkpoints
    and no half-written file: the new one appears by an atomic rename.
    """
    import os

    import mmengine.runner.runner as runner_module
    original = runner_module.save_checkpoint
    if getattr(original, 'hpm_mm_atomic', False):
        return

    def save_checkpoint(checkpoint, filename, file_client_args=None,
                        backend_args=None):
        if '://' in str(filename) or file_client_args or backend_args:
            return original(checkpoint, filename, file_client_args,
                            backend_args)
        tmp = f'{filename}.part{os.getpid()}'
        try:
            original(checkpoint, tmp)
            os.replace(tmp, filename)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    save_checkpoint.hpm_mm_atomic = True
    runner_module.save_checkpoint = save_checkpoint
