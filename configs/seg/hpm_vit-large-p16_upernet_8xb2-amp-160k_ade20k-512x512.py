# ADE20K UperNet with an HPM ViT-L/16 encoder. The authors point to one
# recipe (mmseg's MAE ViT-B one); here it is kept and the network grows: 24
# blocks of width 1024, 16 heads, features from blocks 7, 11, 15 and 23, a
# 1024-wide UperNet, layer decay over 24 blocks. AMP on.
#
# NOT PUBLISHED: the authors give no ViT-L ADE20K recipe. Two values are
# our choice:
# - layer decay 0.8 (not 0.65): with 0.65 over 24 blocks the patch
#   embedding gets 0.65^25 = 2e-5 of the lr, against 0.65^13 = 4e-3 for
#   ViT-B, so the lower half of the encoder would hardly learn. 0.8 keeps
#   ViT-B's patch-embedding multiplier: 0.8^25 = 3.8e-3 (0.65^(13/25) =
#   0.799), and is the ViT-L layer decay of the fine-tune and COCO recipes;
# - drop path 0.2 (ViT-B: 0.1): a deeper encoder gets more stochastic
#   depth, as in mmpretrain's MAE ViT-L fine-tuning recipe (0.2).
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
        drop_path_rate=0.2,  # not published (see above)
        init_cfg=dict(checkpoint='checkpoints/hpm_vit-l_800e.pth')),
    neck=dict(embed_dim=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024], channels=1024),
    auxiliary_head=dict(in_channels=1024))

# not published (see above): 0.8 ~ 0.65^(13/25) keeps ViT-B's multiplier
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.8))
