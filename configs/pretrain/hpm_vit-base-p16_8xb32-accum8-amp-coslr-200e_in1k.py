# HPM ViT-B/16, 200 epochs, 8 GPUs x 32 with 8 accumulation steps (total
# 2048, lr 1.5e-4 x 2048 / 256 = 1.2e-3), AMP: the authors' PRETRAIN.md
# command (8 GPUs, --batch_size 32 --accum_iter 8 --epochs 200
# --warmup_epochs 40 --blr 1.5e-4 --weight_decay 0.05), for GPUs that do
# not hold 256 images. The same run as
# hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py: the optimizer steps, and
# the EMA teacher moves, once per 8 iterations (2048 images); the lr
# schedule, the hard fraction and the teacher's momentum follow the epochs.
#   tools/dist_train.sh configs/pretrain/\
#       hpm_vit-base-p16_8xb32-accum8-amp-coslr-200e_in1k.py 8
_base_ = ['./hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py']

train_dataloader = dict(batch_size=32)  # per GPU, 8 GPUs
optim_wrapper = dict(accumulative_counts=8)
