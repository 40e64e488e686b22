# What mmpretrain's FeatureExtractor reads from a config: the test pipeline
# (ImageNet evaluation: short side 256 bicubic, centre crop 224), as in
# mmpretrain's `*_headless` configs. Inference only: mmengine's Runner
# refuses a test_dataloader without test_cfg/test_evaluator.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = None
