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
# Everything but the sampling rate and the paths is the Kinetics-400 base's.
_base_ = ['./k400_videomae-pretrain_16x4.py']

data_root = 'data/sthv2'
train_pipeline = _base_.train_pipeline
train_pipeline[1].frame_interval = 2  # SampleFrames: 16 frames 2 apart
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='sthv2_train_list_videos.txt',
        data_prefix=dict(video='videos'),
        pipeline=train_pipeline))
