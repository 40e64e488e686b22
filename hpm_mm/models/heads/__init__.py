from .hpm_head import HPMFeatureHead, HPMHead

__all__ = ['HPMHead', 'HPMFeatureHead']
