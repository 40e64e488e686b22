"""An ImageNet-format dataset made of scikit-image's sample photographs."""
import os
import os.path as osp

import numpy as np
from PIL import Image

from hpm_mm.fileio import write_text

# Colour photographs that ship inside the scikit-image wheel.
SAMPLE_IMAGES = ('astronaut', 'chelsea', 'coffee', 'rocket',
                 'immunohistochemistry', 'hubble_deep_field', 'retina',
                 'motorcycle_left', 'motorcycle_right', 'colorwheel')


def load_sample_photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as RGB uint8 (H, W, 3)."""
    import skimage.data
    if name.startswith('motorcycle_'):
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name.endswith('left') else right
    return getattr(skimage.data, name)()


def build_sample_imagenet(root: str,
                          crops_per_image: int = 40,
                          crop_size: int = 96) -> str:
    """Write ``root/train/<photo>/*.JPEG`` and ``root/meta/train.txt``.

    Each photograph of :data:`SAMPLE_IMAGES` becomes one class of random
    square crops (side between 25% and 100% of the short side, resized to
    ``crop_size``; seed 0). The ann file, written last and atomically,
    marks a complete set: nothing is written if it exists, and an
    interrupted build is redone.

    Args:
        root (str): Dataset folder.
        crops_per_image (int): Crops per photograph.
        crop_size (int): Side of the saved crops in pixels.

    Returns:
        str: ``root``.
    """
    if osp.isfile(osp.join(root, 'meta', 'train.txt')):
        return root
    rng = np.random.default_rng(0)
    lines = []
    for label, name in enumerate(SAMPLE_IMAGES):
        img = Image.fromarray(load_sample_photo(name))
        os.makedirs(osp.join(root, 'train', name), exist_ok=True)
        short = min(img.size)
        for i in range(crops_per_image):
            side = int(short * rng.uniform(0.25, 1.0))
            x = int(rng.integers(0, img.width - side + 1))
            y = int(rng.integers(0, img.height - side + 1))
            crop = img.crop((x, y, x + side, y + side)).resize(
                (crop_size, crop_size), Image.BICUBIC)
            fname = f'{name}/{name}_{i:03d}.JPEG'
            crop.save(osp.join(root, 'train', fname), quality=92)
            lines.append(f'{fname} {label}')
    write_text(osp.join(root, 'meta', 'train.txt'), '\n'.join(lines) + '\n')
    return root
