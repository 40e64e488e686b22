from .hard_patch_masker import HardPatchMasker, top_ranked

__all__ = ['HardPatchMasker', 'top_ranked']
