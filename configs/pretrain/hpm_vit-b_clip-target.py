# HPM ViT-B/16 reconstructing frozen CLIP ViT-B/16 visual tokens (after
# ln_post and proj, 512-d) instead of pixels: the authors'
# `--learn_feature_loss clip`. Otherwise hpm_vit-b.py (800 epochs, 8 x 256).
#
# model.target_generator.checkpoint: OpenAI's TorchScript ViT-B-16.pt, or
# CLIP weights as a plain state dict of OpenAI names (the whole model or
# `visual.*`); not downloadable here. The visual tower alone:
#   python tools/convert_checkpoint.py ViT-B-16.pt \
#       checkpoints/clip_vit-base-p16.pth --to clip-target
# or elsewhere: --cfg-options model.target_generator.checkpoint=PATH
_base_ = ['./hpm_vit-b.py', './_base_/hpm_feature_head.py']

model = dict(
    target_generator=dict(
        type='CLIPFeatureTarget',
        checkpoint='checkpoints/clip_vit-base-p16.pth'),
    neck=dict(predict_feature_dim=512),
    head={{_base_.feature_head}})
