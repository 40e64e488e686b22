# The reference's VideoMAE pre-training recipe (run_mae_pretraining.py with
# its scripts' flags), on the runtime of the image configs (hooks, atomic
# checkpoints, preemption, RNG states, visualizer, seed: inherited):
# AdamW betas (0.9, 0.95), eps 1e-8, weight decay 0.05 constant, none on
# 1-D parameters, biases and the mask token (the model's no_weight_decay();
# its pos_embed is a fixed buffer here), lr 1.5e-4 x 2048 / 256 = 1.2e-3,
# per-iteration schedule: 40 warm-up epochs from 0, then cosine to min_lr
# 1e-5 x 2048 / 256 = 8e-5; no gradient clipping; fp16 AMP with a dynamic
# loss scale; the last incomplete batch of an epoch dropped.
#
# The reference's scripts run `--epochs 801` and fine-tune checkpoint-799,
# the weights after 800 epochs: its cosine spans 801 - 40 = 761 epochs, of
# which 760 are trained. The configs stop at 800 epochs on that schedule, so
# their epoch_800.pth is the reference's checkpoint-799.
_base_ = ['./hpm_pretrain_runtime.py']
custom_imports = dict(
    imports=['hpm_mm', 'hpm_mm.video'], allow_failed_imports=False)

lr = 1.5e-4 * 2048 / 256
min_lr = 1e-5 * 2048 / 256
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=lr, betas=(0.9, 0.95), eps=1e-8,
        weight_decay=0.05),
    clip_grad=None,
    paramwise_cfg=dict(
        flat_decay_mult=0.0,  # 1-D: biases, q/v biases, LayerNorms
        custom_keys={'mask_token': dict(decay_mult=0.0)}))

max_epochs = 800
warmup_epochs = 40
schedule_epochs = 801  # the reference's --epochs (see above)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-9,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=schedule_epochs - warmup_epochs,
        eta_min=min_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=50))
