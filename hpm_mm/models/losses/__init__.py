from .loss_prediction import LossPredictionLoss, pairwise_labels

__all__ = ['LossPredictionLoss', 'pairwise_labels']
