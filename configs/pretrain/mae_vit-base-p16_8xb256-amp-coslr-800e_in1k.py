# MAE ViT-B/16 baseline with HPM's exact recipe (800 epochs, 8 x 256, AMP,
# norm_pix off, same optimizer/schedule/augmentation) for side-by-side runs.
_base_ = [
    'mmpretrain::_base_/models/mae_vit-base-p16.py',
    './_base_/hpm_pretrain_runtime.py',
]

model = dict(
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    head=dict(norm_pix=False))
