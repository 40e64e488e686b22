"""An mmpretrain image transform applied to the frames of an mmaction clip."""
import random
from typing import Dict

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS as IMAGE_TRANSFORMS


@TRANSFORMS.register_module()
class FrameTransform(BaseTransform):
    """Apply an mmpretrain image transform to every frame of a clip.

    ``one_draw=True`` gives every frame the same random draw (the Python and
    NumPy generators are set back to their state before the first frame for
    each frame), so the clip is transformed as a whole: the reference's
    RandAugment applies one choice of ops and magnitudes to all frames of a
    clip. ``one_draw=False`` draws anew for each frame: the reference's
    random erasing treats the frames of a clip as a batch of images.

    Args:
        transform (dict): An mmpretrain transform that reads and writes
            ``results['img']`` (H, W, C), e.g. ``dict(type='RandAugment',
            ...)``; built in mmpretrain's scope.
        one_draw (bool): One random draw for the whole clip. Defaults to
            True.

    Example:
        >>> dict(type='FrameTransform', transform=dict(
        ...     type='RandomErasing', erase_prob=0.25, mode='rand'),
        ...     one_draw=False)
    """

    def __init__(self, transform: dict, one_draw: bool = True) -> None:
        if not isinstance(transform, dict) or 'type' not in transform:
            raise ValueError('FrameTransform: transform must be a transform '
                             f'config dict with a type, got {transform!r}')
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            self.image_transform = IMAGE_TRANSFORMS.build(transform)
        self.one_draw = bool(one_draw)

    def transform(self, results: Dict) -> Dict:
        """Transform each frame of ``results['imgs']``.

        Args:
            results (dict): Holds ``imgs``, a list of (H, W, C) frames.

        Returns:
            dict: ``results`` with the transformed frames and their
            ``img_shape``.
        """
        state = random.getstate(), np.random.get_state()
        frames = []
        for frame in results['imgs']:
            if self.one_draw:
                random.setstate(state[0])
                np.random.set_state(state[1])
            out = self.image_transform(
                dict(img=frame, img_shape=frame.shape[:2],
                     ori_shape=frame.shape[:2]))
            frames.append(out['img'])
        results['imgs'] = frames
        results['img_shape'] = frames[0].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(transform={self.image_transform!r}, '
                f'one_draw={self.one_draw})')
