from .hpm_head import HPMHead

__all__ = ['HPMHead']
