"""Checkpoints: the one reader and writer (:mod:`.checkpoint`), the key maps
between the formats (:mod:`.keymaps`), fitting weights to a model in one
line (:mod:`.fit`) and the models converted files are for
(:mod:`.reference`); ``tools/convert_checkpoint.py`` is their front."""
from .checkpoint import (CheckpointError, check_checkpoint,  # noqa: F401
                         detect_format, is_torchscript, read_checkpoint,
                         read_state_dict, save_checkpoint, strip_prefix,
                         take_prefix)
from .fit import (check_fit, compare_state_dicts, load_weights,  # noqa
                  summarize_keys)
from .keymaps import (ENCODER, STUDENT, TARGET_PREFIX, clip_visual,  # noqa
                      convert_encoder, extract_encoder, hpm_to_released,
                      released_to_hpm)
from .reference import infer_vit_arch, reference  # noqa: F401
from .safe_globals import mmengine_safe_globals  # noqa: F401
