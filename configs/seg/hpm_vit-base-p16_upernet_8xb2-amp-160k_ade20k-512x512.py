# ADE20K semantic segmentation with an HPM ViT-B/16 encoder: mmseg's MAE
# UperNet recipe (the one the authors point to), inherited as is: 512 x 512
# crops, 160k iterations at batch 16 (8 GPUs x 2), AdamW lr 1e-4, weight
# decay 0.05, layer-wise lr decay 0.65, drop path 0.1, 1500 warm-up iterations
# then poly decay, sliding-window test. Mixed precision really is on here
# (AmpOptimWrapper): the inherited `fp16=` key is not read by mmengine.
#
#   tools/dist_train.sh \
#       configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py 8
#
# mmseg's MAE backbone loads its checkpoint with strict=False and ignores
# init_cfg.prefix, so an hpm_mm/mmpretrain checkpoint would load nothing
# without a word. CheckedMAE (same network) reads any hpm_mm, released or
# converted checkpoint, logs missing/unexpected keys and fails if encoder
# weights are missing or mis-shaped. source='teacher' takes the EMA
# teacher's encoder.
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'
# hpm_mm.downstream.seg registers CheckedMAE (needs mmsegmentation and mmcv
# with ops: `make setup-full`).
custom_imports = dict(
    imports=['hpm_mm', 'hpm_mm.downstream.seg'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        type='CheckedMAE',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-b_800e.pth',
            source='student')))

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
fp16 = None  # superseded by AmpOptimWrapper above

# Checkpoints written atomically (one line if the disk is full), every
# rank's RNG states in them, on SIGTERM/SIGUSR1 a checkpoint and exit 75,
# and mmengine checkpoints readable by torch's weights-only loading.
# (hpm_mm's hooks, registered in mmpretrain's registry)
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
custom_hooks = [
    dict(type='mmpretrain.CheckpointSafeGlobalsHook'),
    dict(type='mmpretrain.RNGStateHook'),
    dict(type='mmpretrain.PreemptionHook'),
]

# Curves in TensorBoard (event files in <work_dir>/<timestamp>/vis_data)
# beside the json log; W&B instead: --cfg-options
# visualizer.vis_backends.1.type=WandbVisBackend
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
