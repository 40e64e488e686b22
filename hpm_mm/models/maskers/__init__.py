from .hard_patch_masker import HardPatchMasker

__all__ = ['HardPatchMasker']
