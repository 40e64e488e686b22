"""Checkpoints: the one reader and writer (:mod:`.checkpoint`), the key maps
between the formats (:mod:`.keymaps`), fitting weights to a model in one
line (:mod:`.fit`) and the models converted files are for
(:mod:`.reference`); ``tools/convert_checkpoint.py`` is their front."""
from .checkpoint import (FORMATS, CheckpointError, check_checkpoint,  # noqa
                         detect_format, is_torchscript, read_checkpoint,
                         read_state_dict, save_checkpoint, split_checkpoint,
                         strip_prefix, take_prefix)
from .fit import (Mismatch, check_fit, compare_state_dicts,  # noqa: F401
                  describe_state_dict_mismatch, load_weights, summarize_keys)
from .keymaps import (ENCODER, STUDENT, TARGET_PREFIX, TARGETS,  # noqa
                      Conversion, clip_visual, convert_encoder,
                      extract_encoder, hpm_to_released, infer_clip_arch,
                      networks, released_to_hpm)
from .reference import infer_vit_arch, reference  # noqa: F401
from .safe_globals import mmengine_safe_globals  # noqa: F401
