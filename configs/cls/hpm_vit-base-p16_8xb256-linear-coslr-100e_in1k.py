# Linear probing of a frozen HPM ViT-B/16 encoder (the authors' recipe):
# cls token after the final norm, BatchNorm without affine (eps 1e-6), a
# linear head; SGD momentum 0.9, no weight decay, base lr 1e-3 scaled as
# lr = base lr x batch / 256 (8 GPUs x 256 = 2048 -> 8e-3), 10 warm-up
# epochs from 0 then cosine to 0, 100 epochs, fp16 AMP, RandomResizedCrop
# + flip, resize 256 + center crop 224 at test, all bicubic (the authors'
# main_linprob.py; the inherited mmpretrain pipelines are bilinear). Model
# and data come from mmpretrain's MAE linear-probe config (which uses LARS
# at batch 16384); the optimizer, batch, schedule and interpolation are
# HPM's. The authors run 4 GPUs x 512: the BatchNorm sees 256 images per
# GPU here, 512 there (docs/en/pretraining.md lists such differences).
# Without a GPU: --cfg-options optim_wrapper.type=OptimWrapper (hpm_mm's
# tools/train.py switches to fp32 by itself).
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py 8
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'  # noqa: E501
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-b_800e.pth',
            prefix='backbone.')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(
    _delete_=True,
    # fp16 autocast, loss scaling 'dynamic' (AmpOptimWrapper's default)
    type='AmpOptimWrapper',
    optimizer=dict(
        type='SGD', lr=1e-3 * 2048 / 256, momentum=0.9, weight_decay=0.0))

max_epochs = 100
warmup_epochs = 10
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-9,  # from 0, as the authors' util/lr_sched.py
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        eta_min=0.0,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=2048)

# Checkpoints written atomically (one line if the disk is full), every
# rank's RNG states in them, on SIGTERM/SIGUSR1 a checkpoint and exit 75,
# and mmengine checkpoints readable by torch's weights-only loading.
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
custom_hooks = [
    dict(type='CheckpointSafeGlobalsHook'),
    dict(type='RNGStateHook'),
    dict(type='PreemptionHook'),
]

# Curves in TensorBoard (event files in <work_dir>/<timestamp>/vis_data)
# beside the json log; W&B instead: --cfg-options
# visualizer.vis_backends.1.type=WandbVisBackend
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
