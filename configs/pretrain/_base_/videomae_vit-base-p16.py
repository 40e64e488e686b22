# VideoMAE ViT-B/16 (the reference's pretrain_videomae_base_patch16_224 with
# --decoder_depth 4 --mask_type tube --mask_ratio 0.9): clips (B, 3, 16,
# 224, 224) ImageNet-normalised, tubelets 2x16x16 (N = 8 x 14 x 14 = 1568
# tokens, no cls token), fixed sin-cos positions, 176 of the 196 positions of
# each time step masked along the whole clip (tubes), decoder 4 blocks of
# width 384 with 6 heads, target the per-token normalised pixels of the
# masked tubelets (--normlize_target True), MSE, no drop path.
model = dict(
    type='VideoMAE',
    data_preprocessor=dict(
        type='VideoDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'),
    backbone=dict(
        type='VideoMAEViT',
        img_size=224,
        patch_size=16,
        embed_dims=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4,
        num_frames=16,
        tubelet_size=2,
        mask_ratio=0.9,
        drop_path_rate=0.0),
    neck=dict(
        type='VideoMAEDecoder',
        num_patches=1568,
        embed_dim=768,
        decoder_embed_dim=384,
        decoder_depth=4,
        decoder_num_heads=6,
        mlp_ratio=4,
        patch_size=16,
        tubelet_size=2,
        in_chans=3),
    head=dict(
        type='VideoMAEHead',
        norm_pix=True,
        patch_size=16,
        tubelet_size=2,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    masker=dict(type='TubeMasker'))
