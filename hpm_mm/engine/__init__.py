from .distributed import close_distributed
from .hooks import (AtomicCheckpointHook, CheckpointKeysHook,
                    CheckpointSafeGlobalsHook, NonFiniteLossHook,
                    OutputWriteError, RNGStateHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointKeysHook', 'CheckpointSafeGlobalsHook',
    'NonFiniteLossHook', 'OutputWriteError', 'RNGStateHook',
    'close_distributed'
]
