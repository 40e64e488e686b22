"""An ImageNet-format dataset made of scikit-image's sample photographs."""
import os
import os.path as osp
import shutil
import tempfile
from typing import Sequence

import numpy as np
from PIL import Image

# Colour photographs that ship inside the scikit-image wheel.
SAMPLE_IMAGES = ('astronaut', 'chelsea', 'coffee', 'rocket',
                 'immunohistochemistry', 'hubble_deep_field', 'retina',
                 'motorcycle_left', 'motorcycle_right', 'colorwheel')


def load_sample_photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as RGB uint8 (H, W, 3)."""
    import skimage.data
    if name.startswith('motorcycle_'):
        left, right, _ = skimage.data.stereo_motorcycle()
        img = left if name.endswith('left') else right
    else:
        img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def build_sample_imagenet(root: str,
                          crops_per_image: int = 40,
                          crop_size: int = 96,
                          names: Sequence[str] = SAMPLE_IMAGES,
                          seed: int = 0) -> str:
    """Write ``root/train/<photo>/*.JPEG`` and ``root/meta/train.txt``.

    Each photograph becomes one class of random square crops (side between
    25% and 100% of the short side, resized to ``crop_size``). Nothing is
    written if ``root/meta/train.txt`` exists; a partial build goes to a
    temporary folder first, so an interrupted run leaves nothing behind.

    Args:
        root (str): Dataset folder.
        crops_per_image (int): Crops per photograph.
        crop_size (int): Side of the saved crops in pixels.
        names (Sequence[str]): ``skimage.data`` photographs to use.
        seed (int): Seed of the crop positions.

    Returns:
        str: ``root``.
    """
    if osp.isfile(osp.join(root, 'meta', 'train.txt')):
        return root
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.partial_', dir=parent)
    rng = np.random.default_rng(seed)
    lines = []
    for label, name in enumerate(names):
        img = Image.fromarray(load_sample_photo(name))
        folder = osp.join(tmp, 'train', name)
        os.makedirs(folder)
        short = min(img.size)
        for i in range(crops_per_image):
            side = int(short * rng.uniform(0.25, 1.0))
            x = int(rng.integers(0, img.width - side + 1))
            y = int(rng.integers(0, img.height - side + 1))
            crop = img.crop((x, y, x + side, y + side)).resize(
                (crop_size, crop_size), Image.BICUBIC)
            fname = f'{name}_{i:03d}.JPEG'
            crop.save(osp.join(folder, fname), quality=92)
            lines.append(f'{name}/{fname} {label}')
    os.makedirs(osp.join(tmp, 'meta'))
    with open(osp.join(tmp, 'meta', 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    if osp.exists(root):
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root
