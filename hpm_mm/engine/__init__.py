from ..fileio import AtomicLocalBackend, OutputWriteError, check_writable_dir
from .distributed import close_distributed
from .hooks import (CheckpointKeysHook, CheckpointSafeGlobalsHook,
                    NonFiniteLossHook, PreemptionHook, RNGStateHook)

__all__ = [
    'AtomicLocalBackend', 'CheckpointKeysHook', 'CheckpointSafeGlobalsHook',
    'NonFiniteLossHook', 'OutputWriteError', 'PreemptionHook', 'RNGStateHook',
    'check_writable_dir', 'close_distributed'
]
