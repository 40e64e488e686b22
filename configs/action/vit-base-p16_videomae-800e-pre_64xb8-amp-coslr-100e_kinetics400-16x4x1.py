# Kinetics-400 fine-tuning in mmaction2 of a VideoMAE (or, exploratory,
# VideoHPM) ViT-B/16 pre-trained here: the reference's scripts/kinetics/
# videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/finetune.sh
# over run_class_finetuning.py's defaults, on mmaction2's VideoMAE test
# config (model, 5 clips x 3 crops test), inherited.
#   64 GPUs x 8 = 512 clips of 16 frames 4 apart; AdamW (0.9, 0.999),
#   weight decay 0.05 (none on 1-D parameters and biases), lr 1e-3 x 512 /
#   256 = 2e-3, layer-wise lr decay 0.75 over the 12 blocks (mmaction2's
#   LearningRateDecayOptimizerConstructor: the patch embedding at 0.75^13,
#   block i at 0.75^(12 - i), fc_norm and head at 1), 5 warm-up epochs from
#   0 then cosine to min_lr 1e-6 x 512 / 256 (the floor scaled per layer
#   group like the lr), 100 epochs, per iteration; drop path 0.1; mean
#   pooling + fc_norm (the encoder's final norm is not used); the head
#   initialised as the reference's (trunc. normal std 0.02 x init_scale
#   0.001, zero bias); mixup 0.8 / cutmix 1.0 (one of the two per batch)
#   with label smoothing 0.1; fp16 AMP; no gradient clipping.
#   Train clips: RandAugment rand-m7-n4-mstd0.5-inc1, one draw per clip
#   (hpm_mm.video.transforms.FrameTransform over mmpretrain's RandAugment,
#   see below), random resized crop (area 0.08-1, aspect 3/4-4/3) to 224,
#   horizontal flip, random erasing 0.25 per frame (normal noise).
#   Validation: 1 clip, short side 224, centre crop 224. Test: 5 x 3 views.
#
# Differences from the reference (pytorchvideo, which mmaction2 wraps for
# RandAugment, is not used): mmpretrain's RandAugment translates by up to
# 0.45 x the frame size where the reference's moves up to int(0.45 x 224) =
# 100 px at any frame size, and its Color op weighs the channels as BGR
# (mmaction decodes RGB); resizing is OpenCV bilinear where the reference
# interpolates with torch; the fp16 loss scale is mmengine's dynamic one
# (from 2^16, doubled after 2000 clean steps) where the reference's
# DeepSpeed starts at 2^7 and doubles after 128.
#
# The encoder comes from `tools/convert_checkpoint.py PRETRAIN.pth OUT.pth
# --to mmaction` (our VideoMAE/VideoHPM checkpoint or the reference's
# released one); set its path with
#   --cfg-options model.backbone.init_cfg.checkpoint=OUT.pth
# mmaction2's tools/train.py (or `mim train mmaction2`) runs it; without a
# GPU add --cfg-options optim_wrapper.type=OptimWrapper.
_base_ = ('mmaction::recognition/videomae/'
          'vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py')
# hpm_mm.video registers CheckedDecordInit and FrameTransform in mmaction's
# registry
custom_imports = dict(
    imports=['hpm_mm', 'hpm_mm.video'], allow_failed_imports=False)

num_classes = 400
model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        use_mean_pooling=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/videomae_vit-b_k400-800e_mmaction.pth',
            prefix='backbone.')),
    cls_head=dict(
        num_classes=num_classes,
        init_std=0.02 * 0.001,  # the reference's --init_scale 0.001
        label_smooth_eps=0.1),
    data_preprocessor=dict(
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.0,
                     num_classes=num_classes)
            ])))

data_root = 'data/kinetics400'
# The reference's RandAugment: 4 ops of the increasing timm policy set at
# magnitude 7 +- 0.5 (Gaussian), grey fill, bicubic.
rand_augment = dict(
    type='FrameTransform',
    transform=dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=4,
        total_level=10,
        magnitude_level=7,
        magnitude_std=0.5,
        hparams=dict(pad_val=128, interpolation='bicubic')),
    one_draw=True)
# after normalisation the reference fills with N(0, 1): mean + std x N(0, 1)
# before it
random_erasing = dict(
    type='FrameTransform',
    transform=dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[123.675, 116.28, 103.53],
        fill_std=[58.395, 57.12, 57.375]),
    one_draw=False)
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    rand_augment,
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    random_erasing,
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(
        type='SampleFrames',
        clip_len=16,
        frame_interval=4,
        num_clips=1,
        test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=10,
    persistent_workers=True,
    drop_last=True,  # as the reference's DataLoader
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=f'{data_root}/kinetics400_train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos_train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=12,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoDataset',
        ann_file=f'{data_root}/kinetics400_val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos_val'),
        pipeline=val_pipeline,
        test_mode=True))
val_evaluator = dict(type='AccMetric')
val_cfg = dict(type='ValLoop')

max_epochs = 100
warmup_epochs = 5
lr = 1e-3 * 512 / 256
min_lr = 1e-6 * 512 / 256
optim_wrapper = dict(
    type='AmpOptimWrapper',  # dynamic loss scaling
    constructor='LearningRateDecayOptimizerConstructor',
    optimizer=dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.05),
    paramwise_cfg=dict(decay_rate=0.75, decay_type='layer_wise',
                       num_layers=12),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=min_lr / lr, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
    val_interval=1)
# --auto-scale-lr keeps lr = 1e-3 x total batch / 256
auto_scale_lr = dict(enable=False, base_batch_size=512)
randomness = dict(seed=0, diff_rank_seed=True)

# Checkpoints every 10 epochs (the reference's --save_ckpt_freq) and the
# best, written atomically; every rank's RNG states in them; on
# SIGTERM/SIGUSR1 a checkpoint and exit 75; mmengine checkpoints readable by
# torch's weights-only loading (hpm_mm's hooks, in mmpretrain's registry).
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(
        interval=10, max_keep_ckpts=3, save_best='auto',
        backend_args=dict(backend='atomic_local')))
custom_hooks = [
    dict(type='mmpretrain.CheckpointSafeGlobalsHook'),
    dict(type='mmpretrain.RNGStateHook'),
    dict(type='mmpretrain.PreemptionHook'),
]
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
