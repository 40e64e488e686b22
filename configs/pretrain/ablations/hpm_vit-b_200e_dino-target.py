# Ablation: reconstruct frozen DINO ViT-B/16 patch tokens (768-d)
# instead of pixels; the 200-epoch version of ../hpm_vit-b_dino-target.py.
# model.target_generator.checkpoint: see ../hpm_vit-b_dino-target.py.
_base_ = ['../hpm_vit-b_200e.py', '../_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(
        type='DINOFeatureTarget',
        checkpoint='checkpoints/dino_vit-base-p16.pth'),
    neck=dict(predict_feature_dim=768),
    head={{_base_.feature_head}})
