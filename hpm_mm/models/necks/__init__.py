from .hpm_decoder import HPMDecoder

__all__ = ['HPMDecoder']
