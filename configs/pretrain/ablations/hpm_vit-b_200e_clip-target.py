# Ablation: reconstruct frozen CLIP ViT-B/16 visual tokens (512-d)
# instead of pixels; the 200-epoch version of ../hpm_vit-b_clip-target.py.
# model.target_generator.checkpoint: see ../hpm_vit-b_clip-target.py.
_base_ = ['../hpm_vit-b_200e.py', '../_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(
        type='CLIPFeatureTarget',
        checkpoint='checkpoints/clip_vit-base-p16.pth'),
    neck=dict(predict_feature_dim=512),
    head={{_base_.feature_head}})
