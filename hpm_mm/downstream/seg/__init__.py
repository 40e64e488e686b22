"""ADE20K: checked MAE backbone (mmseg registry)."""
from .mae import CheckedMAE

__all__ = ['CheckedMAE']
