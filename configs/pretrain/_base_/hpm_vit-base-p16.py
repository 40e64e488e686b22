# HPM model: MAE ViT-B/16 encoder, 8-block decoder with the parallel
# loss-predictor branch, easy-to-hard masker, EMA teacher (the authors' model).
model = dict(
    type='HPM',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='HPMViT', arch='b', img_size=224, patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='HPMDecoder',
        num_patches=196,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='HPMHead',
        norm_pix=False,
        patch_size=16,
        loss_rec_weight=1.0,
        loss_pred=dict(
            type='LossPredictionLoss', mode='relative', loss_weight=1.0)),
    masker=dict(type='HardPatchMasker', alpha_max=0.5, schedule='epoch'),
    teacher=dict(
        type='HPMTeacherEMA',
        momentum_start=0.999,
        momentum_end=0.9999,
        warmup_epochs=100))

