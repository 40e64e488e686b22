"""Checkpoints: the one reader and writer, and fitting weights to a model in
one line (:mod:`.checkpoint`); the key maps between the formats and the
models converted files are for (:mod:`.keymaps`); the weights-only
allow-list (:mod:`.safe_globals`). ``tools/convert_checkpoint.py`` is
their front."""
from .checkpoint import (CheckpointError, check_checkpoint,  # noqa: F401
                         check_fit, compare_state_dicts, detect_format,
                         is_torchscript, load_weights, read_checkpoint,
                         read_state_dict, save_checkpoint, strip_prefix,
                         summarize_keys, take_prefix)
from .keymaps import (ENCODER, STUDENT, TARGET_PREFIX, VIDEOMAE,  # noqa
                      clip_visual, convert_encoder, extract_encoder,
                      hpm_to_released, infer_video_arch, infer_vit_arch,
                      reference, released_to_hpm)
from .safe_globals import mmengine_safe_globals  # noqa: F401
