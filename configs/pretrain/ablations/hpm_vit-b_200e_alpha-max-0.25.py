# Exploratory ablation (ours, not in the authors' code): the mined fraction
# rises to alpha_max = 0.25 (default 0.5) over the easy-to-hard schedule
# alpha_t = 0.25 * (e + 1) / E.
_base_ = ['../hpm_vit-b_200e.py']

model = dict(masker=dict(alpha_max=0.25))
