# HPM ViT-L/16, 800 epochs, 8 GPUs x 256 (total 2048), AMP: the ViT-B
# recipe of hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py on ViT-L. The
# authors' scripts/pretrain_large.sh is a copy of pretrain_base.sh (its
# --model is ViT-B): the authors' code holds no ViT-L pre-training command.
_base_ = ['./hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py']

model = dict(
    backbone=dict(arch='l'),
    neck=dict(embed_dim=1024))
