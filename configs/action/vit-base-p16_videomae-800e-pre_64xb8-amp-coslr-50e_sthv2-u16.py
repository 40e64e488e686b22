# Something-Something V2 fine-tuning in mmaction2 of a VideoMAE (or,
# exploratory, VideoHPM) ViT-B/16 pre-trained here on SSv2: the reference's
# scripts/ssv2/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/
# finetune.sh; the Kinetics-400 config otherwise (model, optimizer, layer
# decay 0.75, drop path 0.1, mixup/cutmix, label smoothing 0.1, AMP, hooks):
#   64 GPUs x 8 = 512 clips, lr 5e-4 x 512 / 256 = 1e-3, min_lr 2e-6,
#   5 warm-up epochs, 50 epochs; 174 classes.
#   Clips: 16 frames, one from each of 16 equal segments of the video (the
#   reference's SSVideoClsDataset: random in training); no horizontal flip
#   (left/right matters in SSv2); RandAugment and random erasing as for
#   Kinetics. Validation: 1 clip of the segments' middle frames, short side
#   224, centre crop. Test: 2 clips x 3 crops.
#
# Differences from the reference besides the Kinetics config's: mmaction2's
# UniformSample takes the test clips at 1/3 and 2/3 of each segment (the
# reference at its start and middle) and the training frame uniformly from a
# segment of (frames - 1) / 16.
#
# Set the converted SSv2 pre-training with
#   --cfg-options model.backbone.init_cfg.checkpoint=OUT.pth
_base_ = ['./vit-base-p16_videomae-800e-pre_64xb8-amp-coslr-100e_'
          'kinetics400-16x4x1.py']

num_classes = 174
model = dict(
    backbone=dict(
        init_cfg=dict(
            checkpoint='checkpoints/videomae_vit-b_ssv2-800e_mmaction.pth')),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.0,
                     num_classes=num_classes)
            ])))

data_root = 'data/sthv2'
train_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1),
    dict(type='DecordDecode'),
    {{_base_.rand_augment}},
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    {{_base_.random_erasing}},
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='CheckedDecordInit'),
    dict(type='UniformSample', clip_len=16, num_clips=2, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/sthv2_train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/sthv2_val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=val_pipeline))
test_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/sthv2_val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline))

max_epochs = 50
warmup_epochs = 5
lr = 5e-4 * 512 / 256
min_lr = 1e-6 * 512 / 256
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min_ratio=min_lr / lr, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
