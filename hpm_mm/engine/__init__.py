from .hooks import HPMTeacherHook

__all__ = ['HPMTeacherHook']
