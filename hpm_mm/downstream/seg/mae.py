"""mmseg's MAE backbone with a pretrained init that checks what it loads."""
from mmseg.models.backbones import MAE
from mmseg.registry import MODELS

from ..weights import is_pretrained, load_pretrained

#: Parameters of mmseg's MAE that pre-training does not have: layer scale
#: (``init_values``) and the relative position bias (zeros).
NEW_IN_MMSEG = ('layers.*.gamma_1', 'layers.*.gamma_2',
                'layers.*.attn.relative_position_bias_table',
                'layers.*.attn.relative_position_index')


@MODELS.register_module()
class CheckedMAE(MAE):
    """mmseg ``MAE`` backbone whose ``Pretrained`` init cannot load nothing.

    mmseg's ``MAE`` loads ``init_cfg.checkpoint`` with ``strict=False`` and
    ignores ``init_cfg.prefix``: an mmpretrain-style checkpoint
    (``backbone.*``) silently loads no weight at all. This subclass reads
    any hpm_mm/released/mmpretrain/mmseg-format checkpoint through
    :func:`load_pretrained` (format detected, ``source`` 'student' or
    'teacher', optional ``prefix``), resizes the position embedding as
    mmseg does, logs the missing and unexpected keys, and raises if any
    encoder weight is missing or mis-shaped. Only :data:`NEW_IN_MMSEG`
    (and ``ln1`` when ``final_norm=True`` and the file has none) may be
    missing; they keep their initialisation. The class name keeps 'MAE' so
    that mmseg's layer-decay constructor recognises it.

    Args:
        **kwargs: Arguments of mmseg's ``MAE``.
    """

    def init_weights(self) -> None:
        """Random init as mmseg's MAE, then the checked pretrained load."""
        if not is_pretrained(self.init_cfg):
            super().init_weights()
            return
        cfg, self.init_cfg = self.init_cfg, None
        try:
            super().init_weights()  # initialises what the file lacks
        finally:
            self.init_cfg = cfg
        allowed = NEW_IN_MMSEG + (('ln1.*', ) if self.final_norm else ())
        load_pretrained(
            self, cfg, target='mmseg', allowed_missing=allowed,
            prepare=self._fit)

    def _fit(self, state: dict) -> dict:
        """mmseg's own resizing of position embeddings and bias tables."""
        state = self.resize_rel_pos_embed(dict(state))
        return self.resize_abs_pos_embed(state)
