# EXPLORATORY: HPM for video ("hard tubes") is our design: the HPM
# authors released no video code and no video results, so nothing here is
# theirs to match and no number is claimed.
# Our choices: VideoMAE's recipe and data unchanged (videomae_vit-base-p16_
# 64xb32-amp-coslr-800e_ssv2-16x2.py); HPM's parts as for images: a
# loss-predictor branch beside the 4-block decoder, its relative ranking
# loss at weight 1, an EMA teacher (momentum 0.999 -> 0.9999 over
# 100 epochs) scoring all 1568 tokens of the unmasked clip; the scores
# averaged over time pick the hardest spatial positions, masked as tubes
# (alpha_t of the 176 per time step, from 0 to 0.5 over the epochs), the
# rest of the tubes random. HardTubeMasker(per_token=True) mines tokens
# instead of tubes.
#   tools/dist_train.sh configs/pretrain/<this file> 8
_base_ = [
    './_base_/hpm-video_vit-base-p16.py',
    './_base_/sthv2_videomae-pretrain_16x2.py',
]
