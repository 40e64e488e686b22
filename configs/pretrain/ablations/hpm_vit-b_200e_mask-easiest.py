# Exploratory ablation (ours, not in the authors' code): mine the easiest
# patches, i.e. mask the lowest predicted losses, with the default easy-to-
# hard schedule of the mined fraction (0 -> 0.5).
_base_ = ['../hpm_vit-b_200e.py']

model = dict(masker=dict(mine='easy'))
