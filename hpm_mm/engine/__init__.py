from .hooks import (AtomicCheckpointHook, CheckpointKeysHook,
                    CheckpointSafeGlobalsHook, HPMTeacherHook,
                    NonFiniteLossHook, OutputWriteError, RNGStateHook)
from .safe_globals import mmengine_safe_globals

__all__ = [
    'AtomicCheckpointHook', 'CheckpointKeysHook', 'CheckpointSafeGlobalsHook',
    'HPMTeacherHook', 'NonFiniteLossHook', 'OutputWriteError',
    'RNGStateHook', 'mmengine_safe_globals'
]
