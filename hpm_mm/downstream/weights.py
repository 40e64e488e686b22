"""Checked loading of a pretrained HPM encoder into a downstream backbone."""
from typing import Dict, Sequence

from mmengine.logging import print_log

from ..converters import (CheckpointError, convert_encoder, load_weights,
                          read_checkpoint, summarize_keys)


class PretrainedEncoder:
    """Mixin of a downstream backbone whose ``Pretrained`` init checks what
    it loads.

    ``init_cfg=dict(type='Pretrained', checkpoint=..., source='student' or
    'teacher', prefix=None)`` reads the encoder of any checkpoint format
    (``prefix``: take the keys under it instead of detecting), renamed for
    :attr:`target` and adapted by :meth:`fit_checkpoint`, after the
    class's own random init. The loaded, missing and unexpected keys are
    logged; unlike ``strict=False``, a missing key outside
    :attr:`new_keys` (fnmatch patterns of parameters pre-training does
    not have; they keep their init) or a shape mismatch is an error.

    Raises:
        CheckpointError: Unreadable or unknown checkpoint, unknown
            ``init_cfg`` keys, or weights that do not fit.
    """
    target = 'mmpretrain'  # or 'mmdet', 'mmseg': the naming to load
    new_keys: Sequence[str] = ()

    def fit_checkpoint(self, state: Dict) -> Dict:
        """Adapt the converted state dict to the module (e.g. resize the
        position embedding)."""
        return state

    def init_weights(self) -> None:
        """The class's init, then the checked pretrained load."""
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            return super().init_weights()
        name, path = type(self).__name__, cfg.get('checkpoint')
        unknown = set(cfg) - {
            'type', 'checkpoint', 'prefix', 'source', 'map_location'
        }
        if unknown:
            raise CheckpointError(f'{name}: unknown init_cfg keys '
                                  f'{sorted(unknown)}')
        if not path:
            raise CheckpointError(f'{name}: init_cfg.checkpoint is not set')
        self.init_cfg = None
        try:
            super().init_weights()  # initialises what the file lacks
        finally:
            self.init_cfg = cfg
        conv = convert_encoder(
            read_checkpoint(path), self.target, cfg.get('source', 'student'),
            cfg.get('prefix'))
        state = self.fit_checkpoint(conv.state)
        found = load_weights(
            self, state, path, self.new_keys, allow_unexpected=True)
        self.is_init = True
        unexpected = found.unexpected + conv.unknown
        print_log(
            f'{name}: {len(state) - len(found.unexpected)} tensors from '
            f'{path} (format {conv.source_format}; '
            f'{"; ".join(conv.notes) or "-"}); missing, left at init: '
            f'{summarize_keys(found.missing) or "none"}; unexpected, '
            f'ignored: {summarize_keys(unexpected) or "none"}',
            logger='current')
