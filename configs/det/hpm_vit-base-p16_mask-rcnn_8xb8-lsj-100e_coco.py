# COCO Mask R-CNN with an HPM ViT-B/16 encoder in ViTDet's recipe
# (the one the authors used): ViTDet backbone (14x14 window attention, global
# blocks 2, 5, 8, 11, decomposed relative positions, 14x14 absolute
# position grid interpolated to 64x64, drop path 0.1), simple feature
# pyramid (strides 4-64), LSJ at 1024 x 1024, 100 epochs at batch 64
# (8 GPUs x 8; or 16 x 4 with train_dataloader.batch_size=4), AdamW lr 1e-4,
# weight decay 0.1 (none on norms and position embeddings), layer-wise lr
# decay 0.7, fp16 AMP. Model and data inherit mmdet's Mask R-CNN and LSJ
# configs (25 epochs over a 4x repeated COCO = 100 epochs, lr steps at 22
# and 24 = 88 and 96 epochs).
#
#   tools/dist_train.sh \
#       configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py 8
#
# The encoder comes from an hpm_mm pretraining checkpoint, the authors'
# released file or `tools/convert_checkpoint.py --to mmdet` output
# (init_cfg.source='teacher' takes the EMA teacher's encoder).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]
# hpm_mm.downstream.det registers ViTDet, the simple feature pyramid and the
# layer-decay constructor (needs mmdet and mmcv with ops: `make setup-full`).
custom_imports = dict(
    imports=['hpm_mm', 'hpm_mm.downstream.det'], allow_failed_imports=False)

image_size = (1024, 1024)
embed_dims = 768
norm_cfg = dict(type='mmpretrain.LN2d', eps=1e-6)

model = dict(
    # Normalise then zero-pad every image to 1024 x 1024, as ViTDet does.
    data_preprocessor=dict(pad_size_divisor=image_size[0], pad_mask=True),
    backbone=dict(
        _delete_=True,
        type='ViTDet',
        arch='base',
        img_size=image_size,
        pretrain_img_size=224,
        patch_size=16,
        window_size=14,
        use_rel_pos=True,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-b_800e.pth',
            source='student')),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=embed_dims,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# ViTDet evaluates at the longest side 1024 (padded by the preprocessor).
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(batch_size=8, num_workers=8)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(
        layer_decay_rate=0.7,
        norm_decay_mult=0.0,
        custom_keys={'pos_embed': dict(decay_mult=0.0)}))

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=250),
    dict(
        type='MultiStepLR',
        begin=0,
        end=25,
        by_epoch=True,
        milestones=[22, 24],
        gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=64)

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
