# COCO Mask R-CNN with an HPM ViT-L/16 encoder. The authors point to
# ViTDet's recipe; for ViT-L this follows ViTDet's ViT-L settings:
# global blocks 5, 11, 17, 23, drop path 0.4, layer-wise lr decay 0.8.
# Everything else as the ViT-B config (LSJ 1024, 100 epochs at batch 64,
# AdamW lr 1e-4, weight decay 0.1, AMP).
#
#   tools/dist_train.sh \
#       configs/det/hpm_vit-large-p16_mask-rcnn_8xb8-lsj-100e_coco.py 8
_base_ = './hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py'

model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='checkpoints/hpm_vit-l_800e.pth')),
    neck=dict(in_channels=1024))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
