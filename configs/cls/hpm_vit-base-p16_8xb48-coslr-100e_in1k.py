# ImageNet-1K fine-tuning of an HPM ViT-B/16 encoder (the authors' recipe):
# 100 epochs, 8 GPUs x 48 = 384 (the authors' scripts/finetune_base.sh),
# AdamW base lr 5e-4 scaled as lr = 5e-4 x 384 / 256 = 7.5e-4, layer-wise lr
# decay 0.8, weight decay 0.05, drop path 0.1, 5 warm-up epochs then cosine
# to 1e-6, label smoothing 0.1, RandAugment (m9, mstd 0.5, increasing),
# random erasing 0.25, mixup 0.8 / cutmix 1.0, global average pooling +
# LayerNorm head. All of it but the batch, lr and layer decay (0.65 there)
# is mmpretrain's MAE recipe, inherited here.
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py 8
#
# Other GPU counts: --auto-scale-lr keeps lr = 5e-4 x total batch / 256.
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

train_dataloader = dict(batch_size=48)  # per GPU, 8 GPUs
optim_wrapper = dict(
    optimizer=dict(lr=5e-4 * 384 / 256, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8))
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
