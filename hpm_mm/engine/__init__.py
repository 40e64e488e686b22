from .hooks import (CheckpointKeysHook, HPMTeacherHook, NonFiniteLossHook,
                    RNGStateHook)

__all__ = [
    'CheckpointKeysHook', 'HPMTeacherHook', 'NonFiniteLossHook',
    'RNGStateHook'
]
