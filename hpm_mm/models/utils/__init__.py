from .compile_utils import float_drop_path_probs
from .teacher_ema import HPMTeacherEMA, parameters_to_buffers

__all__ = ['HPMTeacherEMA', 'float_drop_path_probs', 'parameters_to_buffers']
