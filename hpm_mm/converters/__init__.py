"""Checkpoint conversion: released HPM <-> hpm_mm <-> downstream backbones.

Pure functions on state dicts (no model is built here, except by
:mod:`.validate`, which imports the OpenMMLab libraries lazily).
"""
from .encoder import (TARGET_PREFIX, TARGETS, convert_encoder, encoder_to,
                      extract_encoder)
from .errors import CheckpointError
from .formats import FORMATS, detect_format, split_checkpoint, strip_prefix
from .io import (check_checkpoint, load_checkpoint, load_model_weights,
                 read_checkpoint, save_checkpoint)
from .keymaps import hpm_to_released_key, released_to_hpm_key
from .released import Conversion, hpm_to_released, released_to_hpm
from .report import (Mismatch, compare_state_dicts,
                     describe_state_dict_mismatch, summarize_keys)

__all__ = [
    'CheckpointError', 'Conversion', 'FORMATS', 'Mismatch', 'TARGETS',
    'TARGET_PREFIX', 'check_checkpoint', 'compare_state_dicts',
    'convert_encoder', 'describe_state_dict_mismatch', 'detect_format',
    'encoder_to', 'extract_encoder', 'hpm_to_released', 'hpm_to_released_key',
    'load_checkpoint', 'load_model_weights', 'read_checkpoint',
    'released_to_hpm', 'released_to_hpm_key', 'save_checkpoint',
    'split_checkpoint', 'strip_prefix', 'summarize_keys'
]
