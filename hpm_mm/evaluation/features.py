"""Image datasets with DINO's test-time transform (that of the HPM
authors' ``main_knn.py``) and frozen-encoder features, in any number of
processes."""
import torch
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import all_gather, get_rank
from mmengine.utils import track_iter_progress
from mmpretrain.datasets import CustomDataset
from mmpretrain.models import ClsDataPreprocessor
from torch import Tensor, nn
from torch.utils.data import DataLoader


def eval_preprocessor() -> ClsDataPreprocessor:
    """Stacks a batch, BGR (mmcv's order) -> RGB, ImageNet mean/std."""
    return ClsDataPreprocessor(
        mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375),
        to_rgb=True)


def build_split(data_root: str, split: str,
                img_size: int = 224) -> CustomDataset:
    """One split of a dataset in mmpretrain's ImageNet layout:
    ``data_root/<split>/`` (images) and ``data_root/meta/<split>.txt``
    (lines ``relative/path.JPEG label``). A missing file is a
    ``FileNotFoundError`` naming it. The transform: PIL decoding, bicubic
    resize of the short side to ``img_size / 0.875``, center crop
    ``img_size``; :func:`eval_preprocessor` then normalises."""
    return CustomDataset(
        data_root=data_root,
        ann_file=f'meta/{split}.txt',
        data_prefix=split,
        pipeline=[
            # as torchvision's default_loader: PIL, EXIF orientation ignored
            dict(
                type='CheckedLoadImageFromFile',
                imdecode_backend='pillow',
                color_type='color_ignore_orientation'),
            dict(
                type='ResizeEdge',
                scale=int(img_size / 0.875),  # DINO's 256 for 224
                edge='short',
                backend='pillow',
                interpolation='bicubic'),
            dict(type='CenterCrop', crop_size=img_size),
            dict(type='PackInputs'),
        ])


@torch.no_grad()
def extract_features(encoder: nn.Module,
                     dataset: CustomDataset,
                     batch_size: int = 64,
                     num_workers: int = 4) -> Tensor:
    """L2-normalised cls-token features of a whole dataset.

    Each rank encodes the samples mmengine's :class:`DefaultSampler`
    (no shuffling) gives it; the features of all ranks are then gathered
    and put back in dataset order, so every rank returns the same tensor.

    Args:
        encoder (nn.Module): Maps (B, 3, H, W) normalised images to
            (B, C) features, or to a tuple whose last item is that.
        dataset (CustomDataset): From :func:`build_split`.
        batch_size (int): Images per forward on each rank.
        num_workers (int): Data loading workers per rank.

    Returns:
        Tensor: (N, C) float32 features on the encoder's device, unit L2
        norm.
    """
    preprocess = eval_preprocessor().to(next(encoder.parameters()).device)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=DefaultSampler(dataset, shuffle=False),
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    if get_rank() == 0:  # a progress bar
        loader = track_iter_progress((loader, len(loader)))
    feats = []
    for batch in loader:
        out = encoder(preprocess(batch)['inputs'])
        out = out[-1] if isinstance(out, (tuple, list)) else out
        feats.append(F.normalize(out.float(), dim=1))
    # DefaultSampler gives rank r the samples r, r + world, ... (the last
    # ones padded): interleaving the ranks' features is dataset order
    feats = torch.stack(all_gather(torch.cat(feats)), dim=1).flatten(0, 1)
    return feats[:len(dataset)]
