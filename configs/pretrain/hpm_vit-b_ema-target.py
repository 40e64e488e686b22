# HPM ViT-B/16 reconstructing the EMA teacher's own encoder patch tokens
# (768-d, full image) instead of pixels: the authors'
# `--learn_feature_loss ema`. The tokens come from the teacher forward that
# scores the patches (no extra pass, no extra weights). Otherwise
# hpm_vit-b.py (800 epochs, 8 x 256).
_base_ = ['./hpm_vit-b.py', './_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(type='EMAFeatureTarget'),
    neck=dict(predict_feature_dim=768),  # the encoder width (1024 for ViT-L)
    head={{_base_.feature_head}})
