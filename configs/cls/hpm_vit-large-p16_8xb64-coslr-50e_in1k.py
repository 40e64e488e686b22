# ImageNet-1K fine-tuning of an HPM ViT-L/16 encoder, 50 epochs: the ViT-B
# recipe of hpm_vit-base-p16_8xb48-coslr-100e_in1k.py (inherited here) but
# the length and the batch, as the authors' scripts/finetune_large.sh:
# 8 GPUs x 64 = 512, lr = 5e-4 x 512 / 256 = 1e-3, layer decay 0.8, drop
# path 0.1, 5 warm-up epochs from 0 then cosine to min_lr 1e-6, both scaled
# per layer group, fp16 AMP. (mmpretrain's MAE ViT-L fine-tuning uses
# 8 x 128, lr 4e-3, layer decay 0.75 and drop path 0.2.)
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-large-p16_8xb64-coslr-50e_in1k.py 8
#
# Without a GPU hpm_mm's tools/train.py trains in fp32 by itself; other
# entry points take --cfg-options optim_wrapper.type=OptimWrapper
_base_ = './hpm_vit-base-p16_8xb48-coslr-100e_in1k.py'

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='checkpoints/hpm_vit-l_800e.pth')),
    head=dict(in_channels=1024))

train_dataloader = dict(batch_size=64)  # per GPU, 8 GPUs
lr = 5e-4 * 512 / 256
optim_wrapper = dict(optimizer=dict(lr=lr))
max_epochs = 50
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-9, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 5, by_epoch=True,
         begin=5, end=max_epochs, eta_min_ratio=1e-6 / lr,  # min_lr 1e-6
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=512)

