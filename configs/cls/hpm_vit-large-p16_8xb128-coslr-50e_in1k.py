# ImageNet-1K fine-tuning of an HPM ViT-L/16 encoder, 50 epochs, with the
# HPM recipe of HPM_SPEC section 5 (the same as ViT-B's but the length):
# lr 5e-4 x 1024 / 256 = 2e-3, layer decay 0.8, drop path 0.1. (mmpretrain's
# MAE ViT-L config inherited here uses 4e-3, 0.75 and 0.2.) 5 warm-up epochs
# then cosine to 1e-6, same augmentation and GAP + LayerNorm head.
#
#   tools/dist_train.sh \
#       configs/cls/hpm_vit-large-p16_8xb128-coslr-50e_in1k.py 8
_base_ = 'mmpretrain::mae/benchmarks/vit-large-p16_8xb128-coslr-50e_in1k.py'
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/hpm_vit-l_800e.pth',
            prefix='backbone.')))

optim_wrapper = dict(
    optimizer=dict(lr=5e-4 * 1024 / 256, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.8))

# Curves in TensorBoard (event files in <work_dir>/<timestamp>/vis_data)
# beside the json log; W&B instead: --cfg-options
# visualizer.vis_backends.1.type=WandbVisBackend
visualizer = dict(vis_backends=[
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
])
