# Ablation: absolute loss prediction. The predictor regresses the per-image
# z-scored reconstruction losses with MSE instead of ranking pairs of
# patches with binary cross-entropy (relative, the default); the authors'
# relative=False.
_base_ = ['../hpm_vit-b_200e.py']

model = dict(head=dict(loss_pred=dict(mode='absolute')))
