from .hooks import (AtomicCheckpointHook, CheckpointKeysHook,
                    CheckpointSafeGlobalsHook, HPMTeacherHook,
                    NonFiniteLossHook, OutputWriteError, RNGStateHook)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointKeysHook', 'CheckpointSafeGlobalsHook',
    'HPMTeacherHook', 'NonFiniteLossHook', 'OutputWriteError',
    'RNGStateHook'
]
