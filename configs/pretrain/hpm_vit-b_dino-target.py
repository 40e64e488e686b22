# HPM ViT-B/16 reconstructing frozen DINO ViT-B/16 final-norm patch tokens
# (768-d) instead of pixels: the authors' `--learn_feature_loss dino`.
# Otherwise hpm_vit-b.py (800 epochs, 8 x 256).
#
# model.target_generator.checkpoint: DINO's ViT-B/16 backbone weights as
# released (`dino_vitbase16_pretrain.pth`, timm names, read as they are) or
# an mmpretrain ViT-B/16 checkpoint; not downloadable here. Elsewhere:
#   --cfg-options model.target_generator.checkpoint=PATH
_base_ = ['./hpm_vit-b.py', './_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(
        type='DINOFeatureTarget',
        checkpoint='checkpoints/dino_vit-base-p16.pth'),
    neck=dict(predict_feature_dim=768),
    head={{_base_.feature_head}})
