from .checkpoint_keys_hook import CheckpointKeysHook
from .nonfinite_loss_hook import NonFiniteLossHook
from .preemption_hook import PREEMPTED_EXIT_CODE, PreemptionHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .safe_globals_hook import CheckpointSafeGlobalsHook

__all__ = [
    'CheckpointKeysHook', 'CheckpointSafeGlobalsHook', 'NonFiniteLossHook',
    'PREEMPTED_EXIT_CODE', 'PreemptionHook', 'RNGStateHook', 'get_rng_state',
    'set_rng_state'
]
