# Something-Something V2 for VideoMAE pre-training as the reference loads it
# (kinetics.py `VideoMAE`, which its SSv2 scripts use too, and datasets.py
# `DataAugmentationForVideoMAE`): decord, one clip of 16 frames 2 apart
# (--sampling_rate 2) from a random start (a video shorter than 32 frames
# repeats its last sampled frame), a multi-scale crop (side min(H, W) x one of
# 1, .875, .75, .66 for height and width, at most one scale step apart, at one
# of 13 fixed positions) resized to 224 x 224 bilinear (OpenCV; the reference
# resizes with PIL), no flip; ImageNet normalisation in the model's data
# preprocessor. mmaction2's data layout: data/sthv2/videos and
# sthv2_train_list_videos.txt (`id.mp4 label` per line; the label is unused).
# 64 GPUs x 32 = 2048 clips per step, as the reference's scripts.
_base_ = ['./videomae_pretrain_runtime.py']

data_root = 'data/sthv2'
train_pipeline = [
    # names the file of a missing, corrupt or empty video
    dict(type='mmaction.CheckedDecordInit'),
    dict(
        type='mmaction.SampleFrames',
        clip_len=16,
        frame_interval=2,
        num_clips=1,
        out_of_bound_opt='repeat_last'),
    dict(type='mmaction.DecordDecode'),
    dict(
        type='mmaction.MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='mmaction.Resize', scale=(224, 224), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='PackInputs', input_key='imgs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='mmaction.VideoDataset',
        data_root=data_root,
        ann_file='sthv2_train_list_videos.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))
