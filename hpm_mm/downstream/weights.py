"""Checked loading of a pretrained HPM encoder into a downstream backbone."""
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.logging import print_log
from torch import Tensor, nn

from ..converters import (CheckpointError, convert_encoder, load_weights,
                          read_checkpoint, summarize_keys)

_INIT_KEYS = {'type', 'checkpoint', 'prefix', 'source', 'map_location'}


def is_pretrained(init_cfg) -> bool:
    """Whether ``init_cfg`` asks for pretrained weights."""
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def load_pretrained(module: nn.Module,
                    init_cfg: dict,
                    target: str,
                    allowed_missing: Sequence[str] = (),
                    prepare: Optional[Callable[[Dict], Dict]] = None
                    ) -> Dict[str, List[str]]:
    """Load a pretrained encoder into ``module`` and account for every key.

    The checkpoint may be an hpm_mm pretraining checkpoint, the authors'
    released one, or any converted file (format detected, see
    :mod:`hpm_mm.converters`). Unlike a plain ``strict=False`` load, the
    loaded, missing and unexpected keys are always logged, and it is an
    error when a parameter outside ``allowed_missing`` (the ones that are
    new downstream, such as relative position tables) is missing, when
    shapes differ, or when nothing matches.

    Args:
        module (nn.Module): The backbone.
        init_cfg (dict): ``type='Pretrained'``, ``checkpoint`` (path or
            URL), optional ``source`` ('student' default or 'teacher') and
            ``prefix`` (take the keys under it instead of detecting).
        target (str): 'mmpretrain', 'mmdet' or 'mmseg' naming.
        allowed_missing (Sequence[str]): fnmatch patterns of parameters the
            checkpoint need not have; they keep their initialisation.
        prepare (callable, optional): Adapts the converted state dict to the
            module (e.g. resizes position embeddings).

    Returns:
        dict[str, list[str]]: ``missing`` and ``unexpected`` keys.

    Raises:
        CheckpointError: Unreadable/unknown checkpoint, shape mismatch, or
            missing encoder weights.
    """
    name = type(module).__name__
    unknown_cfg = set(init_cfg) - _INIT_KEYS
    if unknown_cfg:
        raise CheckpointError(f'{name}: unknown init_cfg keys '
                              f'{sorted(unknown_cfg)}')
    path = init_cfg.get('checkpoint')
    if not path:
        raise CheckpointError(f'{name}: init_cfg.checkpoint is not set')
    conv = convert_encoder(
        read_checkpoint(path),
        target=target,
        source=init_cfg.get('source', 'student'),
        prefix=init_cfg.get('prefix'))
    state: Dict[str, Tensor] = conv.state
    if prepare is not None:
        state = prepare(state)

    found = load_weights(module, state, path, allowed_missing,
                         allow_unexpected=True)
    missing, unexpected = found.missing, found.unexpected + conv.unknown
    print_log(
        f'{name}: {len(state) - len(found.unexpected)} tensors from {path} '
        f'(format {conv.source_format}; {"; ".join(conv.notes) or "-"}); '
        f'missing, left at init: {summarize_keys(missing) or "none"}; '
        f'unexpected, ignored: {summarize_keys(unexpected) or "none"}',
        logger='current')
    return dict(missing=missing, unexpected=unexpected)
