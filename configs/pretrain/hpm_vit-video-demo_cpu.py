# EXPLORATORY (issue 28): a VideoHPM run that finishes in minutes on 2 CPU
# cores (tools/demo_video.py, `make demo-video`). Generated clips of a bright
# square moving over a smooth background (hpm_mm.testing.video), written as
# MPEG-4 files in Kinetics-400's layout by the demo. The algorithm of the
# K400 VideoHPM config with a tiny ViT on 8 frames of 40 x 40 (4 x 5 x 5 =
# 100 tokens, 22 of the 25 positions masked along the clip), a short
# schedule (the hard share and the teacher momentum step per iteration) and
# one change of target: pixels, as HPM's image recipe (norm_pix=False), not
# VideoMAE's per-token normalised pixels. Under the normalised target a flat
# token (inside the square) is nearly free to reconstruct, and in this short
# run the teacher ranks the square's tokens below the background's
# (`tools/demo_video.py --norm-pix` shows it).
_base_ = ['./hpm_vit-base-p16_64xb32-amp-coslr-800e_k400-16x4.py']

img_size, patch_size, num_frames = 40, 8, 8
num_tokens = (num_frames // 2) * (img_size // patch_size)**2
model = dict(
    backbone=dict(
        img_size=img_size,
        patch_size=patch_size,
        embed_dims=64,
        depth=3,
        num_heads=2,
        num_frames=num_frames),
    neck=dict(
        num_patches=num_tokens,
        embed_dim=64,
        decoder_embed_dim=64,
        decoder_depth=1,
        decoder_num_heads=2,
        patch_size=patch_size),
    head=dict(patch_size=patch_size, norm_pix=False),
    masker=dict(schedule='iter'),
    # a short run needs a faster teacher than 0.999-0.9999
    teacher=dict(momentum_start=0.99, momentum_end=0.99, warmup_epochs=0))

data_root = 'data/demo_video'
train_pipeline = [
    dict(type='mmaction.CheckedDecordInit'),
    dict(type='mmaction.SampleFrames', clip_len=num_frames,
         frame_interval=1, num_clips=1),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.Flip', flip_ratio=0.5),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='PackInputs', input_key='imgs'),
]
train_dataloader = dict(
    batch_size=16,
    # 2 CPU cores: loading in the main process beats workers competing
    # with the model for the cores (and keeps torch's intra-op threads).
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

max_iters = 600
# fp32 on the CPU, a higher lr for the short run, otherwise the recipe
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        flat_decay_mult=0.0, custom_keys={'mask_token': dict(
            decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=0.0,
         by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=20)
randomness = dict(seed=0)
work_dir = 'outputs/demo_video'
