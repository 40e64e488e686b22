# EXPLORATORY: HPM on video is our choice of design; the HPM
# authors released no video code and no video results.
# VideoHPM ViT-B/16: the VideoMAE model of ./videomae_vit-base-p16.py plus
# HPM's parts: the decoder's loss-predictor branch (a second 4-block stack of
# the reconstructor's shape), its relative ranking loss, an EMA teacher that
# scores all 1568 tokens of the unmasked clip, and hard tubes: the scores
# averaged over time, the hardest spatial positions (alpha_t of the 176
# masked per time step, alpha_t from 0 to 0.5 over the epochs, as for
# images) masked along the whole clip, the rest random.
_base_ = ['./videomae_vit-base-p16.py']

model = dict(
    type='VideoHPM',
    neck=dict(loss_predictor=True),
    head=dict(
        type='HPMVideoHead',
        loss_pred=dict(
            type='LossPredictionLoss', mode='relative', loss_weight=1.0)),
    masker=dict(
        _delete_=True, type='HardTubeMasker', alpha_max=0.5,
        schedule='epoch'),
    # the image recipe's momentum ramp (0.999 -> 0.9999 over 100 epochs)
    teacher=dict(
        type='HPMTeacherEMA',
        momentum_start=0.999,
        momentum_end=0.9999,
        warmup_epochs=100))
