"""Checked loading of a pretrained HPM encoder into a downstream backbone."""
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.logging import print_log
from torch import nn

from ..converters import (CheckpointError, convert_encoder, load_weights,
                          read_checkpoint, summarize_keys)


def is_pretrained(init_cfg) -> bool:
    """Whether ``init_cfg`` asks for pretrained weights."""
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def load_pretrained(module: nn.Module,
                    init_cfg: dict,
                    target: str,
                    allowed_missing: Sequence[str] = (),
                    prepare: Optional[Callable[[Dict], Dict]] = None
                    ) -> Dict[str, List[str]]:
    """Load the encoder of any checkpoint format into ``module``, logging
    the loaded, missing and unexpected keys (unlike ``strict=False``, a
    missing key outside ``allowed_missing`` or a shape mismatch is an error).

    Args:
        module (nn.Module): The backbone.
        init_cfg (dict): ``type='Pretrained'``, ``checkpoint`` (path or
            URL), optional ``source`` ('student' or 'teacher') and
            ``prefix`` (take the keys under it instead of detecting).
        target (str): 'mmpretrain', 'mmdet' or 'mmseg' naming.
        allowed_missing (Sequence[str]): fnmatch patterns of parameters the
            checkpoint need not have (new downstream); they keep their init.
        prepare (callable, optional): Adapts the converted state dict to the
            module (e.g. resizes position embeddings).

    Returns:
        dict[str, list[str]]: ``missing`` and ``unexpected`` keys.

    Raises:
        CheckpointError: Unreadable or unknown checkpoint, unknown
            ``init_cfg`` keys, or weights that do not fit.
    """
    name, path = type(module).__name__, init_cfg.get('checkpoint')
    unknown_cfg = set(init_cfg) - {'type', 'checkpoint', 'prefix', 'source',
                                   'map_location'}
    if unknown_cfg:
        raise CheckpointError(f'{name}: unknown init_cfg keys '
                              f'{sorted(unknown_cfg)}')
    if not path:
        raise CheckpointError(f'{name}: init_cfg.checkpoint is not set')
    conv = convert_encoder(read_checkpoint(path), target,
                           init_cfg.get('source', 'student'),
                           init_cfg.get('prefix'))
    state = prepare(conv.state) if prepare else conv.state
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
