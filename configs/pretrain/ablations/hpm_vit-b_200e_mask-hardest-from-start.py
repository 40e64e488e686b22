# Ablation: no easy-to-hard curriculum; the 50% hardest of the masked
# patches are mined from the first iteration (alpha = alpha_max = 0.5), as
# the authors' generate_mask(..., guide=False).
_base_ = ['../hpm_vit-b_200e.py']

model = dict(masker=dict(ramp='none'))
