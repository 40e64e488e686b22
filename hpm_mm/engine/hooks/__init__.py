from .hpm_teacher_hook import HPMTeacherHook

__all__ = ['HPMTeacherHook']
