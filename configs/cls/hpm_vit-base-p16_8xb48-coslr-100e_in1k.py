# ImageNet-1K fine-tuning of an HPM ViT-B/16 encoder (the authors' recipe):
# 100 epochs, 8 GPUs x 48 = 384 (the authors' scripts/finetune_base.sh),
# AdamW base lr 5e-4 scaled as lr = 5e-4 x 384 / 256 = 7.5e-4, layer-wise lr
# decay 0.8, weight decay 0.05, drop path 0.1, 5 warm-up epochs from 0 then
# cosine to min_lr 1e-6, both scaled per layer group as the lr is, fp16 AMP
# (dynamic loss scaling), label smoothing 0.1, RandAugment (m9, mstd 0.5,
# increasing), random erasing 0.25, mixup 0.8 / cutmix 1.0, global average
# pooling + LayerNorm head. The model, augmentation and optimizer type come
# from mmpretrain's MAE recipe, inherited here.
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py 8
#
# Other GPU counts: --auto-scale-lr keeps lr = 5e-4 x total batch / 256.
# Without a GPU hpm_mm's tools/train.py trains in fp32 by itself; other
# entry points (mmpretrain's tools/train.py, `mim train`) take
#   --cfg-options optim_wrapper.type=OptimWrapper
# The encoder is read from `backbone.*` of an hpm_mm pretraining checkpoint
# (or of `tools/convert_checkpoint.py --to mmpretrain` output, e.g. with
# --source teacher or from the authors' released file). Set the path with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-b_800e.pth',
            prefix='backbone.')))

# per GPU, 8 GPUs; the last partial batch of an epoch is dropped, as the
# authors' DataLoader does
train_dataloader = dict(batch_size=48, drop_last=True)
lr = 5e-4 * 384 / 256
min_lr = 1e-6
optim_wrapper = dict(
    # fp16 autocast, loss scaling 'dynamic' (AmpOptimWrapper's default)
    type='AmpOptimWrapper',
    optimizer=dict(lr=lr, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8))
# The authors' util/lr_sched.py: lr_scale x (lr x e / 5) in warm-up, then
# lr_scale x (min_lr + (lr - min_lr) x cosine); eta_min_ratio scales the
# floor by each group's initial lr (lr x lr_scale), as they do. With
# --auto-scale-lr the floor scales with the lr (the authors' stays 1e-6).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min_ratio=min_lr / lr,
         by_epoch=True, begin=5, end=100, convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=384)

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
