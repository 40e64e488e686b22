# ADE20K UperNet with an HPM ViT-L/16 encoder. HPM_SPEC section 5 gives one
# recipe (mmseg's MAE ViT-B one); here it is kept and only the network
# grows: 24 blocks of width 1024, 16 heads, features from blocks 7, 11, 15
# and 23, a 1024-wide UperNet, layer decay over 24 blocks. AMP on.
#
#   tools/dist_train.sh \
#       configs/seg/hpm_vit-large-p16_upernet_8xb2-amp-160k_ade20k-512x512.py 8
_base_ = './hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=[7, 11, 15, 23],
        init_cfg=dict(checkpoint='checkpoints/hpm_vit-l_800e.pth')),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024], channels=1024),
    auxiliary_head=dict(in_channels=1024))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=24))
