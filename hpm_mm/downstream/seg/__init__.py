"""ADE20K: checked MAE backbone (mmseg registry).

Needs mmsegmentation and mmcv built with ops; without them importing this
package fails with one line saying what to install.
"""
from .. import require

require('hpm_mm.downstream.seg', ('mmseg', 'mmcv.ops'), 'seg')

from .mae import CheckedMAE  # noqa: E402

__all__ = ['CheckedMAE']
