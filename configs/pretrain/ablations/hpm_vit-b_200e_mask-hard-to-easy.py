# Exploratory ablation (ours, not in the authors' code): the curriculum
# reversed, alpha_t = 0.5 * (E - e) / E falls from 0.5 at epoch 0 to 0.5 / E
# at the last epoch (hard-to-easy).
_base_ = ['../hpm_vit-b_200e.py']

model = dict(masker=dict(ramp='down'))
