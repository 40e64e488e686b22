# HPM ViT-B/16, 200 epochs (the paper's short schedule), 8 x 256, AMP.
_base_ = ['./hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py']

max_epochs = 200
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-9,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 40,
        eta_min=0.0,
        by_epoch=True,
        begin=40,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
