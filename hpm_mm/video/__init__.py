"""VideoMAE pre-training and HPM on clips.

``import hpm_mm.video`` registers :class:`VideoMAE`, :class:`VideoHPM` and
their parts in mmpretrain's ``MODELS``, and :class:`CheckedDecordInit` and :class:`FrameTransform` in
mmaction's ``TRANSFORMS``; it needs mmaction2 (whose VideoMAE
ViT the encoder and decoder are built from) and fails with one line saying
what to install when mmaction2 is missing. ``import hpm_mm`` does not
import it: a video config lists it in ``custom_imports``.
"""
from ..downstream import require

require('hpm_mm.video', ('mmaction', 'mmaction.models.backbones.vit_mae'),
        'video')

from .algorithms import VideoHPM, VideoMAE, as_clips  # noqa: E402
from .decoder import VideoMAEDecoder  # noqa: E402
from .heads import HPMVideoHead, VideoMAEHead  # noqa: E402
from .loading import CheckedDecordInit  # noqa: E402
from .maskers import HardTubeMasker, TubeMasker  # noqa: E402
from .transforms import FrameTransform  # noqa: E402
from .vit import VideoMAEViT  # noqa: E402

__all__ = [
    'VideoMAEViT', 'VideoMAEDecoder', 'VideoMAEHead', 'HPMVideoHead',
    'TubeMasker', 'HardTubeMasker', 'VideoMAE', 'VideoHPM', 'as_clips',
    'CheckedDecordInit', 'FrameTransform'
]
