from .teacher_ema import HPMTeacherEMA

__all__ = ['HPMTeacherEMA']
