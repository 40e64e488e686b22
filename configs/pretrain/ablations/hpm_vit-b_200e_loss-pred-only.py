# Ablation: the loss-prediction objective alone. Random masks (no mining,
# alpha 0 throughout), the loss predictor still trained on the masked
# patches' losses (the paper's claim that the objective helps by itself).
_base_ = ['../hpm_vit-b_200e.py']

model = dict(masker=dict(fixed_alpha=0.0))
