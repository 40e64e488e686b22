# ImageNet-1K fine-tuning of an HPM ViT-L/16 encoder, 50 epochs, with the
# authors' HPM recipe (the same as ViT-B's but the length and
# the batch): 8 GPUs x 64 = 512 (the authors' scripts/finetune_large.sh),
# lr = 5e-4 x 512 / 256 = 1e-3, layer decay 0.8, drop path 0.1.
# (mmpretrain's MAE ViT-L config inherited here uses 8 x 128, lr 4e-3,
# layer decay 0.75 and drop path 0.2.) 5 warm-up epochs from 0 then cosine
# to min_lr 1e-6, both scaled per layer group, fp16 AMP, same augmentation
# and GAP + LayerNorm head.
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-large-p16_8xb64-coslr-50e_in1k.py 8
#
# Without a GPU hpm_mm's tools/train.py trains in fp32 by itself; other
# entry points take --cfg-options optim_wrapper.type=OptimWrapper
_base_ = 'mmpretrain::mae/benchmarks/vit-large-p16_8xb128-coslr-50e_in1k.py'
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-l_800e.pth',
            prefix='backbone.')))

# per GPU, 8 GPUs; the last partial batch of an epoch is dropped, as the
# authors' DataLoader does
train_dataloader = dict(batch_size=64, drop_last=True)
lr = 5e-4 * 512 / 256
min_lr = 1e-6
optim_wrapper = dict(
    # fp16 autocast, loss scaling 'dynamic' (AmpOptimWrapper's default)
    type='AmpOptimWrapper',
    optimizer=dict(lr=lr, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8))
# As ViT-B's: the floor min_lr scaled per layer group, as the authors do.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-9,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=45,
        eta_min_ratio=min_lr / lr,
        by_epoch=True,
        begin=5,
        end=50,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=512)

# Checkpoints written atomically (one line if the disk is full), and
# mmengine checkpoints readable by torch's weights-only loading (resume).
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='CheckpointSafeGlobalsHook')]

# Curves in TensorBoard (event files in <work_dir>/<timestamp>/vis_data)
# beside the json log; W&B instead: --cfg-options
# visualizer.vis_backends.1.type=WandbVisBackend
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
