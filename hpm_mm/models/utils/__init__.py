from .compile_utils import float_drop_path_probs
from .teacher_ema import HPMTeacherEMA

__all__ = ['HPMTeacherEMA', 'float_drop_path_probs']
