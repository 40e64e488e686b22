"""Tiny datasets in the real formats: ImageNet, COCO, ADE20K.

Written from scratch with smooth random images, for tests, the GPU check
and quick runs of the downstream tools; nothing is downloaded.
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw


def _smooth_image(rng, h: int, w: int) -> np.ndarray:
    low = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC))


def write_imagenet(root: str, *, num_classes: int = 2, per_class: int = 4,
                   size: int = 48, seed: int = 0) -> str:
    """ImageNet layout: {train,val}/<wnid>/*.JPEG and meta/{train,val}.txt.

    ``per_class`` training and ``max(1, per_class // 2)`` validation images
    of ``size`` px per class; labels are ImageNet class indices
    0..num_classes-1 of mmpretrain's 1000-class list.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, n in (('train', per_class), ('val', max(1, per_class // 2))):
        lines = []
        for c in range(num_classes):
            wnid = f'n{c:08d}'
            os.makedirs(osp.join(root, split, wnid), exist_ok=True)
            for i in range(n):
                name = f'{wnid}/{split}_{c}_{i}.JPEG'
                Image.fromarray(_smooth_image(rng, size, size)).save(
                    osp.join(root, split, name), quality=90)
                lines.append(f'{name} {c}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def write_coco(root: str, *, n_train: int = 4, n_val: int = 2,
               width: int = 128, height: int = 96, seed: int = 0) -> str:
    """COCO layout: {train,val}2017/*.jpg + annotations/instances_*.json.

    All 80 COCO categories are declared; two per image are annotated with
    polygon masks (quadrilaterals drawn in a flat colour).
    """
    from mmdet.datasets import CocoDataset
    categories = [
        dict(id=i + 1, name=name, supercategory='thing')
        for i, name in enumerate(CocoDataset.METAINFO['classes'])
    ]
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split, n in (('train', n_train), ('val', n_val)):
        os.makedirs(osp.join(root, f'{split}2017'), exist_ok=True)
        images, annotations = [], []
        for i in range(n):
            img = Image.fromarray(_smooth_image(rng, height, width))
            for j in range(2):
                x0, y0 = (int(rng.integers(2, s // 2))
                          for s in (width, height))
                w, h = (int(rng.integers(16, s // 2)) for s in (width, height))
                poly = [x0, y0, x0 + w, y0 + 2, x0 + w - 3, y0 + h, x0 + 1,
                        y0 + h - 2]
                ImageDraw.Draw(img).polygon(
                    poly, fill=tuple(map(int, rng.integers(0, 256, 3))))
                xs, ys = poly[0::2], poly[1::2]
                box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=i + 1,
                    category_id=categories[j]['id'], iscrowd=0,
                    segmentation=[list(map(float, poly))],
                    area=float(w * h) * 0.9, bbox=list(map(float, box))))
            name = f'{i + 1:012d}.jpg'
            img.save(osp.join(root, f'{split}2017', name), quality=95)
            images.append(dict(id=i + 1, file_name=name, width=width,
                               height=height))
        with open(osp.join(root, 'annotations',
                           f'instances_{split}2017.json'), 'w') as f:
            json.dump(dict(info=dict(description='tiny COCO for tests'),
                           licenses=[], images=images,
                           annotations=annotations, categories=categories),
                      f)
    return root


def write_ade20k(root: str, *, n_train: int = 4, n_val: int = 2,
                 width: int = 96, height: int = 64, seed: int = 0) -> str:
    """ADEChallengeData2016 layout: images/ and annotations/ per split.

    Annotations are 8-bit PNGs with 0 = other and 1..150 the classes.
    """
    rng = np.random.default_rng(seed)
    for split, n, tag in (('training', n_train, 'train'),
                          ('validation', n_val, 'val')):
        for sub in ('images', 'annotations'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(n):
            name = f'ADE_{tag}_{i + 1:08d}'
            img = _smooth_image(rng, height, width)
            seg = np.zeros((height, width), np.uint8)
            for _ in range(3):
                y, x = rng.integers(0, height - 8), rng.integers(0, width - 8)
                seg[y:y + 24, x:x + 32] = rng.integers(1, 151)
            Image.fromarray(img).save(
                osp.join(root, 'images', split, name + '.jpg'), quality=95)
            Image.fromarray(seg).save(
                osp.join(root, 'annotations', split, name + '.png'))
    return root
