from .hard_patch_masker import HardPatchMasker, mask_patches, top_ranked

__all__ = ['HardPatchMasker', 'mask_patches', 'top_ranked']
