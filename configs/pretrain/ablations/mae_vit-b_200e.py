# Baseline of ours: mmpretrain's MAE ViT-B/16 at 200 epochs in HPM's exact
# recipe (random masks, no loss predictor, no teacher), for side-by-side
# runs; not a row of the paper's tables.
_base_ = ['../mae_vit-b.py']

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
