# Shared HPM/MAE pre-training recipe on ImageNet-1K (the authors' recipe):
# AdamW (0.9, 0.95), wd 0.05 except 1-D params, lr 1.5e-4 * batch / 256,
# 40 warm-up epochs then half-cycle cosine to 0 (per iteration), grad clip
# 5.0, fp16 AMP, PIL decoding, RandomResizedCrop(0.2, 1) bicubic + flip,
# the last incomplete batch of an epoch dropped.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs512_mae.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)

# Decoding as the authors' torchvision `default_loader`,
# `Image.open(f).convert('RGB')`: PIL (OpenCV's JPEG decoder can give
# slightly different pixels), EXIF orientation ignored. mmcv hands the image
# on in BGR order like OpenCV would; the model's data preprocessor
# (to_rgb=True) turns it into RGB.
train_pipeline = [
    # names the file of a corrupt or truncated image instead of a grey one
    dict(
        type='CheckedLoadImageFromFile',
        imdecode_backend='pillow',
        color_type='color_ignore_orientation'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
# 8 GPUs x 256 = 2048 images per step, the authors' total batch.
# collate_fn is redefined because mmengine tags dicts inherited through
# `mmpretrain::` with `_scope_`, which default_collate() does not accept.
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    drop_last=True,  # as the authors' DataLoader: every step has 2048
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 2048 / 256, betas=(0.9, 0.95),
        weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    # The released code decays every tensor but 1-D ones (biases, norms);
    # cls/mask tokens are 3-D and therefore decayed.
    paramwise_cfg=dict(flat_decay_mult=0.0))

max_epochs = 800
warmup_epochs = 40
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
        T_max=max_epochs - warmup_epochs,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# Checkpoints are written to a temporary name and renamed by hpm_mm's
# 'atomic_local' file backend (a crash or a full disk leaves the earlier
# ones and no half-written file; a full disk stops with one line naming the
# file, the space needed and the space free).
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')))
randomness = dict(seed=0, diff_rank_seed=True)
# Fail fast and resume exactly: stop at a non-finite loss, refuse
# checkpoints that do not fit the model, keep RNG states in checkpoints,
# let torch's weights-only loading read mmengine checkpoints (resume,
# load_from) while the Runner runs, and on SIGTERM/SIGUSR1 (preemption,
# time limit) checkpoint and exit 75.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='CheckpointKeysHook'),
    dict(type='RNGStateHook'),
    dict(type='CheckpointSafeGlobalsHook'),
    dict(type='PreemptionHook'),
]
# `--auto-scale-lr` rescales lr linearly from this total batch size.
auto_scale_lr = dict(base_batch_size=2048)

# Curves in TensorBoard (event files in <work_dir>/<timestamp>/vis_data)
# beside the json log; W&B instead: --cfg-options
# visualizer.vis_backends.1.type=WandbVisBackend
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
