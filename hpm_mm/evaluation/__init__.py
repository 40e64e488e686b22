"""Evaluation of frozen HPM encoders: weighted kNN (DINO protocol)."""
from .encoder import arch_from_config, build_encoder, standard_num_heads
from .features import build_split, eval_preprocessor, extract_features
from .knn import (DEFAULT_KS, DEFAULT_TEMPERATURE, check_knn_args,
                  knn_classify, topk_neighbours)

__all__ = [
    'DEFAULT_KS', 'DEFAULT_TEMPERATURE', 'arch_from_config', 'build_encoder',
    'build_split', 'check_knn_args', 'eval_preprocessor', 'extract_features',
    'knn_classify', 'standard_num_heads', 'topk_neighbours'
]
