"""Tiny video datasets in mmaction2's layouts: Kinetics-400 and SSv2.

Real video files (MPEG-4 in an ``.mp4`` container, written by OpenCV,
decoded by decord) of a bright square moving over a smooth background,
with mmaction's annotation lists (``relative/path.mp4 label`` per line).
Written from scratch and seeded, for tests, demos and quick runs; nothing
is downloaded. Needs OpenCV (``cv2``), which mmaction2 installs.
"""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
from PIL import Image


def moving_square_clip(rng: np.random.Generator, num_frames: int,
                       size: int) -> np.ndarray:
    """A clip of a bright square moving in a straight line.

    The background is a random 4x4 colour grid resized (bicubic) to
    ``size`` px; the square (``size // 4`` px) crosses the frame from a
    random start to a random end, one step per frame.

    Args:
        rng (np.random.Generator): The source of randomness.
        num_frames (int): Frames of the clip.
        size (int): Height and width in pixels.

    Returns:
        np.ndarray: RGB uint8 frames (num_frames, size, size, 3).
    """
    low = rng.integers(0, 200, (4, 4, 3), dtype=np.uint8)
    background = np.asarray(
        Image.fromarray(low).resize((size, size), Image.BICUBIC))
    side = max(2, size // 4)
    start, end = rng.integers(0, size - side + 1, (2, 2))
    frames = np.repeat(background[None], num_frames, axis=0)
    for t in range(num_frames):
        y, x = np.rint(start + (end - start) * t /
                       max(1, num_frames - 1)).astype(int)
        frames[t, y:y + side, x:x + side] = 255
    return frames


def write_video(path: str, frames: np.ndarray, fps: float = 25.0) -> str:
    """Write RGB uint8 frames (T, H, W, 3) as an MPEG-4 ``.mp4`` file."""
    import cv2
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (width, height))
    if not writer.isOpened():
        raise OSError(f'OpenCV cannot write an MPEG-4 video: {path}')
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # BGR
    writer.release()
    return path


def _write_split(root: str, video_dir: str, list_file: str,
                 names: List[Tuple[str, int]], num_frames: int, size: int,
                 rng: np.random.Generator) -> None:
    for name, label in names:
        write_video(osp.join(root, video_dir, name),
                    moving_square_clip(rng, num_frames, size))
    with open(osp.join(root, list_file), 'w') as f:
        f.write(''.join(f'{name} {label}\n' for name, label in names))


def write_kinetics(root: str, *, num_classes: int = 2, per_class: int = 2,
                   num_frames: int = 24, size: int = 40,
                   seed: int = 0) -> str:
    """Kinetics-400 as mmaction2 lays it out (``data/kinetics400``).

    ``videos_{train,val}/<class>/<youtube id>_<start>_<end>.mp4`` and
    ``kinetics400_{train,val}_list_videos.txt`` listing
    ``<class>/<file>.mp4 <label>``; ``per_class`` training and
    ``max(1, per_class // 2)`` validation videos per class.

    Args:
        root (str): The dataset folder (mmaction's ``data/kinetics400``).
        num_classes (int): Classes ``class_0``... with labels 0, 1...
        per_class (int): Training videos per class.
        num_frames (int): Frames per video.
        size (int): Height and width of the frames in pixels.
        seed (int): Seed of the content.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    for split, n in (('train', per_class), ('val', max(1, per_class // 2))):
        names = [(f'class_{c}/{split}{c:02d}{i:04d}_000000_000010.mp4', c)
                 for c in range(num_classes) for i in range(n)]
        _write_split(root, f'videos_{split}',
                     f'kinetics400_{split}_list_videos.txt', names,
                     num_frames, size, rng)
    return root


def write_sthv2(root: str, *, num_classes: int = 2, per_class: int = 2,
                num_frames: int = 24, size: int = 40, seed: int = 0) -> str:
    """Something-Something V2 as mmaction2 lays it out (``data/sthv2``).

    ``videos/<id>.mp4`` and ``sthv2_{train,val}_list_videos.txt`` listing
    ``<id>.mp4 <label>``. The real videos are VP9 ``.webm`` files; these
    are MPEG-4 ``.mp4``, which OpenCV's FFmpeg encodes itself (its VP9
    encoder fails once decord, which bundles another libvpx, is loaded);
    mmaction's ``VideoDataset`` takes the name from the list as it is.
    Arguments as :func:`write_kinetics`.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    first = 1
    for split, n in (('train', per_class), ('val', max(1, per_class // 2))):
        names = [(f'{first + c * n + i}.mp4', c)
                 for c in range(num_classes) for i in range(n)]
        first += num_classes * n
        _write_split(root, 'videos', f'sthv2_{split}_list_videos.txt', names,
                     num_frames, size, rng)
    return root
