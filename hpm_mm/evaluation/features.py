"""Image datasets and frozen-encoder features for the kNN evaluation.

The test-time transform is DINO's (and the HPM authors' ``main_knn.py``):
decode with PIL, resize the short side to ``img_size / 0.875`` (256 for
224) with bicubic interpolation, center-crop ``img_size``, normalise with
the ImageNet mean and std. In a distributed run every rank encodes its
share of the set and the features are gathered back into dataset order.
"""
import os.path as osp
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import all_gather, get_dist_info
from mmpretrain.datasets import CustomDataset
from mmpretrain.models import ClsDataPreprocessor
from torch import Tensor, nn
from torch.utils.data import DataLoader

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
#: center crop / resize, as in DINO's 224 / 256
CROP_RATIO = 0.875


def eval_pipeline(img_size: int = 224) -> List[dict]:
    """PIL decoding, bicubic resize of the short side to ``img_size /
    0.875``, center crop ``img_size`` (mmpretrain transforms)."""
    return [
        # torchvision's default_loader: PIL, RGB, EXIF orientation ignored
        dict(
            type='CheckedLoadImageFromFile',
            imdecode_backend='pillow',
            color_type='color_ignore_orientation'),
        dict(
            type='ResizeEdge',
            scale=int(img_size / CROP_RATIO),
            edge='short',
            backend='pillow',
            interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=img_size),
        dict(type='PackInputs'),
    ]


def eval_preprocessor() -> ClsDataPreprocessor:
    """Stacks a batch, BGR (mmcv's order) -> RGB, ImageNet mean/std."""
    return ClsDataPreprocessor(
        mean=IMAGENET_MEAN, std=IMAGENET_STD, to_rgb=True)


def build_split(data_root: str, split: str,
                img_size: int = 224) -> CustomDataset:
    """One split of an ImageNet-format dataset.

    Args:
        data_root (str): Holds ``<split>/`` (images) and
            ``meta/<split>.txt`` (lines ``relative/path.JPEG label``), the
            layout of mmpretrain's ``ImageNet``.
        split (str): 'train' or 'val'.
        img_size (int): Crop size of :func:`eval_pipeline`.

    Raises:
        FileNotFoundError: The image folder or the ann file is missing.
    """
    ann = osp.join(data_root, 'meta', f'{split}.txt')
    for path in (osp.join(data_root, split), ann):
        if not osp.exists(path):
            raise FileNotFoundError(f'{split} set: {path} does not exist '
                                    '(expected the ImageNet layout)')
    return CustomDataset(
        data_root=data_root,
        ann_file=f'meta/{split}.txt',
        data_prefix=split,
        pipeline=eval_pipeline(img_size))


def labels_of(dataset: CustomDataset) -> Tensor:
    """(N,) long labels in dataset order."""
    return torch.as_tensor(dataset.get_gt_labels(), dtype=torch.long)


@torch.no_grad()
def extract_features(encoder: nn.Module,
                     dataset: CustomDataset,
                     batch_size: int = 64,
                     num_workers: int = 4,
                     device: Optional[torch.device] = None,
                     progress: bool = True) -> Tensor:
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
        device (torch.device, optional): Defaults to the encoder's.
        progress (bool): Show a progress bar on rank 0.

    Returns:
        Tensor: (N, C) float32 features on ``device``, unit L2 norm.
    """
    if device is None:
        device = next(encoder.parameters()).device
    rank, world = get_dist_info()
    sampler = DefaultSampler(dataset, shuffle=False, round_up=True)
    indices = torch.as_tensor(list(iter(sampler)), dtype=torch.long)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=pseudo_collate,
        persistent_workers=False)
    preprocess = eval_preprocessor().to(device)
    bar = None
    if progress and rank == 0:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(loader))
    feats = []
    for batch in loader:
        inputs = preprocess(batch)['inputs']
        out = encoder(inputs)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        feats.append(F.normalize(out.float(), dim=1))
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    local = torch.cat(feats) if feats else torch.empty(0, device=device)
    if world > 1:
        # DefaultSampler(round_up=True) gives every rank the same count
        local = torch.cat(all_gather(local))
        indices = torch.cat(all_gather(indices.to(device))).cpu()
    out = local.new_empty(len(dataset), local.shape[1])
    # padded samples repeat earlier ones: writing them twice is harmless
    out[indices.to(out.device)] = local
    return out
