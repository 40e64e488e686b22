# Ablation: reconstruct the EMA teacher's encoder patch tokens (768-d)
# instead of pixels; the 200-epoch version of ../hpm_vit-b_ema-target.py.
_base_ = ['../hpm_vit-b_200e.py', '../_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(type='EMAFeatureTarget'),
    neck=dict(predict_feature_dim=768),
    head={{_base_.feature_head}})
