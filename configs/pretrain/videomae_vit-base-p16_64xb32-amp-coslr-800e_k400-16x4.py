# VideoMAE ViT-B/16 pre-training on Kinetics-400, the reference's
# scripts/kinetics/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_
# epoch_800/pretrain.sh: 64 GPUs x 32 clips of 16 frames 4 apart, tube
# masking 0.9, 800 epochs, lr 1.2e-3, fp16 AMP.
#   tools/dist_train.sh configs/pretrain/<this file> 8
# Fewer GPUs keep the total of 2048 with
#   --cfg-options optim_wrapper.accumulative_counts=8   (8 GPUs x 32 x 8)
# or scale the lr with --auto-scale-lr. The encoder fine-tunes in mmaction2
# (configs/action/) after
#   tools/convert_checkpoint.py work_dirs/.../epoch_800.pth OUT.pth \
#       --to mmaction
_base_ = [
    './_base_/videomae_vit-base-p16.py',
    './_base_/k400_videomae-pretrain_16x4.py',
]
