"""Checkpoints: reading, fitting to a model, and converting between formats.

:func:`read_checkpoint` is the one reader and :func:`load_weights` (or
:func:`check_fit` after mmengine has loaded) the one way a state dict is
fitted to a model; the converters are pure functions on state dicts (no
model is built here, except by :mod:`.validate` and :mod:`.clip`, which
import the OpenMMLab libraries lazily).
"""
from .checkpoint import (CheckpointError, check_checkpoint, read_checkpoint,
                         read_state_dict, save_checkpoint, split_checkpoint,
                         strip_prefix)
from .encoder import (TARGET_PREFIX, TARGETS, convert_encoder, encoder_to,
                      extract_encoder)
from .fit import (Mismatch, check_fit, compare_state_dicts,
                  describe_state_dict_mismatch, load_weights, summarize_keys)
from .formats import FORMATS, detect_format
from .released import Conversion, hpm_to_released, released_to_hpm
from .safe_globals import mmengine_safe_globals
from .validate import infer_vit_arch

__all__ = [
    'CheckpointError', 'Conversion', 'FORMATS', 'Mismatch', 'TARGETS',
    'TARGET_PREFIX', 'check_checkpoint', 'check_fit', 'compare_state_dicts',
    'convert_encoder', 'describe_state_dict_mismatch', 'detect_format',
    'encoder_to', 'extract_encoder', 'hpm_to_released', 'infer_vit_arch',
    'load_weights',
    'mmengine_safe_globals',
    'read_checkpoint', 'read_state_dict', 'released_to_hpm',
    'save_checkpoint', 'split_checkpoint', 'strip_prefix', 'summarize_keys'
]
