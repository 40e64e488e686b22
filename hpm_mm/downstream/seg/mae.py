"""mmseg's MAE backbone with a pretrained init that checks what it loads."""
from typing import Dict, Tuple

from mmseg.models.backbones import MAE
from mmseg.registry import MODELS

from ..weights import PretrainedEncoder


@MODELS.register_module()
class CheckedMAE(PretrainedEncoder, MAE):
    """mmseg ``MAE`` backbone whose ``Pretrained`` init cannot load nothing.

    mmseg's ``MAE`` loads ``init_cfg.checkpoint`` with ``strict=False`` and
    ignores ``init_cfg.prefix``: an mmpretrain-style checkpoint
    (``backbone.*``) silently loads no weight at all. This subclass reads
    any checkpoint format through :class:`PretrainedEncoder`, resizes the
    position embedding as mmseg does and raises if any encoder weight is
    missing or mis-shaped. Only layer scale (``init_values``), the
    relative position bias (zeros) and ``ln1`` when ``final_norm=True``
    and the file has none may be missing. The class name keeps 'MAE' so
    that mmseg's layer-decay constructor recognises it.

    Args:
        **kwargs: Arguments of mmseg's ``MAE``.
    """
    target = 'mmseg'

    @property
    def new_keys(self) -> Tuple[str, ...]:
        """Parameters of mmseg's MAE that pre-training does not have."""
        return ('layers.*.gamma_1', 'layers.*.gamma_2',
                'layers.*.attn.relative_position_bias_table',
                'layers.*.attn.relative_position_index') + (
                    ('ln1.*', ) if self.final_norm else ())

    def fit_checkpoint(self, state: Dict) -> Dict:
        """mmseg's own resizing of position embeddings and bias tables."""
        return self.resize_abs_pos_embed(self.resize_rel_pos_embed(state))
