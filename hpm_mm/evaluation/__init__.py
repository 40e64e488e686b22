"""Evaluation of frozen HPM encoders: weighted kNN (DINO protocol)."""
from .encoder import arch_from_config, build_encoder, standard_num_heads
from .features import build_split, eval_pipeline, extract_features, labels_of
from .knn import (DEFAULT_KS, DEFAULT_TEMPERATURE, knn_classify, knn_votes,
                  topk_neighbours)

__all__ = [
    'DEFAULT_KS', 'DEFAULT_TEMPERATURE', 'arch_from_config', 'build_encoder',
    'build_split', 'eval_pipeline', 'extract_features', 'knn_classify',
    'knn_votes', 'labels_of', 'standard_num_heads', 'topk_neighbours'
]
