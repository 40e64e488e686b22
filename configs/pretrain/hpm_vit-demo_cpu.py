# A small HPM run that finishes in minutes on 2 CPU cores (README command 1).
# Real photographs from scikit-image, made into an ImageNet-format dataset by
# tools/demo.py. Same algorithm as hpm_vit-b.py, smaller ViT and schedule;
# the hard fraction and the teacher momentum step per iteration.
_base_ = ['./hpm_vit-b.py']

img_size, patch_size = 64, 8  # 64 patches, 48 masked
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True, embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=img_size,
        patch_size=patch_size),
    neck=dict(
        num_patches=(img_size // patch_size)**2,
        patch_size=patch_size,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(patch_size=patch_size),
    masker=dict(schedule='iter'),
    # a short run needs a faster teacher than 0.999-0.9999
    teacher=dict(momentum_start=0.99, momentum_end=0.99, warmup_epochs=0))

data_root = 'data/demo_imagenet/'
train_dataloader = dict(
    batch_size=32,
    # 2 CPU cores: loading in the main process beats workers competing
    # with the model for the cores (and keeps torch's intra-op threads).
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        pipeline=[
            dict(type='CheckedLoadImageFromFile', imdecode_backend='pillow',
                 color_type='color_ignore_orientation'),
            dict(
                type='RandomResizedCrop',
                scale=img_size,
                crop_ratio_range=(0.2, 1.0),
                backend='pillow',
                interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs')
        ]))

max_iters = 1200
# fp32, so that every entry point runs it on a CPU: mmpretrain's own
# tools/train.py (what `mim train` runs) refuses AmpOptimWrapper without a
# GPU. Otherwise the recipe of hpm_vit-b.py, with a higher lr.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=0.0,
         by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0)
work_dir = 'outputs/demo'
