# The head of every feature-target config (the authors'
# `--learn_feature_loss`): per masked patch,
# ||normalize(pred) - normalize(target)||^2, and the relative loss
# prediction on those losses. A config takes it with
#   _base_ = [..., './_base_/hpm_feature_head.py']
#   model = dict(head={{_base_.feature_head}}, ...)
# (`_delete_` replaces the pixel head of the base config as a whole).
feature_head = dict(
    _delete_=True,
    type='HPMFeatureHead',
    loss_rec_weight=1.0,
    loss_pred=dict(type='LossPredictionLoss', mode='relative',
                   loss_weight=1.0))
