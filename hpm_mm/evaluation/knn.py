"""Weighted k-nearest-neighbour classification of frozen features.

The DINO protocol (Caron et al., 2021), used by the HPM authors'
``main_knn.py``: train and val features are L2-normalised, a val sample's
neighbours are the k train samples of highest cosine similarity, and each
neighbour votes for its label with weight ``exp(similarity / T)``,
``T = 0.07``. The class with the largest summed vote is the prediction.

Similarities are computed block by block (``query_chunk`` val samples
against ``key_chunk`` train samples) with a running top-k merge, so memory
stays ``O(query_chunk * (key_chunk + k))`` whatever the set sizes: ImageNet's
1.28 M x 50 k similarity matrix never exists.
"""
import warnings
from typing import Dict, Sequence, Tuple

import torch
from mmengine.utils import track_iter_progress
from torch import Tensor

#: The authors' (and DINO's) neighbour counts and temperature.
DEFAULT_KS = (10, 20, 100, 200)
DEFAULT_TEMPERATURE = 0.07


def check_knn_args(ks: Sequence[int], temperature: float, query_chunk: int,
                   key_chunk: int) -> None:
    """Raise ``ValueError`` naming the first argument of
    :func:`knn_classify` that is not positive (``ks``: any of them)."""
    for name, value in (('ks', min(ks, default=0)),
                        ('temperature', temperature),
                        ('query_chunk', query_chunk),
                        ('key_chunk', key_chunk)):
        if value <= 0:
            raise ValueError(f'knn_classify: {name} must be positive, got '
                             f'{list(ks) if name == "ks" else value}')


def topk_neighbours(queries: Tensor,
                    keys: Tensor,
                    k: int,
                    key_chunk: int = 65536) -> Tuple[Tensor, Tensor]:
    """The ``k`` most similar keys of each query (dot product).

    Args:
        queries (Tensor): (Q, C) query features.
        keys (Tensor): (N, C) key features, N >= k.
        k (int): Number of neighbours.
        key_chunk (int): Keys compared at once; the (Q, key_chunk)
            similarity block is the largest tensor made.

    Returns:
        tuple[Tensor, Tensor]: Similarities (Q, k), sorted in decreasing
        order, and the keys' row indices (Q, k).
    """
    best_sim = queries.new_empty(queries.shape[0], 0)
    best_idx = torch.empty(
        queries.shape[0], 0, dtype=torch.long, device=queries.device)
    for start in range(0, keys.shape[0], key_chunk):
        sim = queries @ keys[start:start + key_chunk].T  # (Q, chunk)
        sim, idx = sim.topk(min(k, sim.shape[1]), dim=1)
        # merge with the running best: keep the k best of both
        sim = torch.cat([best_sim, sim], dim=1)
        idx = torch.cat([best_idx, idx + start], dim=1)
        best_sim, pos = sim.topk(min(k, sim.shape[1]), dim=1)
        best_idx = idx.gather(1, pos)
    return best_sim, best_idx


@torch.no_grad()
def knn_classify(train_features: Tensor,
                 train_labels: Tensor,
                 val_features: Tensor,
                 val_labels: Tensor,
                 ks: Sequence[int] = DEFAULT_KS,
                 temperature: float = DEFAULT_TEMPERATURE,
                 query_chunk: int = 512,
                 key_chunk: int = 65536,
                 progress: bool = False) -> Dict[int, Dict[str, float]]:
    """Top-1 and top-5 accuracy (%) of weighted kNN for every k in ``ks``.

    The features must already be L2-normalised (the dot product is then the
    cosine similarity). The neighbours are searched once for the largest k;
    every smaller k uses the first k of them. Top-5 counts a sample when
    its label is among the five classes with the most votes (classes
    without votes never count, so for k < 5 fewer than five classes may
    compete).

    Args:
        train_features (Tensor): (N, C), L2-normalised.
        train_labels (Tensor): (N,) long.
        val_features (Tensor): (M, C), L2-normalised, same device.
        val_labels (Tensor): (M,) long.
        ks (Sequence[int]): Neighbour counts. A k larger than N is clipped
            to N with a warning (the result is reported under the k asked
            for).
        temperature (float): Vote temperature T.
        query_chunk (int): Val samples classified at once.
        key_chunk (int): Train samples compared at once.
        progress (bool): Show an mmengine progress bar over the val chunks.

    Returns:
        dict[int, dict[str, float]]: ``{k: {'top1': ..., 'top5': ...}}``.
    """
    if train_features.ndim != 2 or val_features.ndim != 2 or \
            train_features.shape[1] != val_features.shape[1]:
        raise ValueError(
            'knn_classify: features must be (N, C) and (M, C) with the same '
            f'C, got {tuple(train_features.shape)} and '
            f'{tuple(val_features.shape)}')
    check_knn_args(ks, temperature, query_chunk, key_chunk)
    n_train = len(train_features)
    for k in ks:
        if k > n_train:
            warnings.warn(f'k={k} is more than the {n_train} train samples: '
                          f'using k={n_train}')
    num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    train_labels = train_labels.to(train_features.device)
    val_labels = val_labels.to(val_features.device)
    correct = {k: [0, 0] for k in ks}
    starts = range(0, len(val_features), query_chunk)
    for start in track_iter_progress(list(starts)) if progress else starts:
        target = val_labels[start:start + query_chunk, None]  # (Q, 1)
        sims, idx = topk_neighbours(val_features[start:start + query_chunk],
                                    train_features, min(max(ks), n_train),
                                    key_chunk)
        for k in ks:
            weights = (sims[:, :k].float() / temperature).exp()
            votes = weights.new_zeros(len(target), num_classes).scatter_add_(
                1, train_labels[idx[:, :k]], weights)  # (Q, num_classes)
            top = votes.topk(min(5, num_classes), dim=1)
            # a class without any vote is never a prediction
            hit = (top.indices == target) & (top.values > 0)  # (Q, 5)
            correct[k][0] += int(hit[:, 0].sum())
            correct[k][1] += int(hit.any(dim=1).sum())
    total = max(len(val_features), 1)
    return {
        k: dict(top1=100.0 * c1 / total, top5=100.0 * c5 / total)
        for k, (c1, c5) in correct.items()
    }
