"""Image loading that names the file of a corrupt or truncated image."""
import io
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS


def image_bytes_problem(data: bytes) -> Optional[str]:
    """Why ``data`` is not a complete image file, or None if it may be.

    JPEG must end with its end-of-image marker and PNG with its ``IEND``
    chunk (decoders fill a truncated image with grey instead of failing);
    other formats are left to the decoder.
    """
    if not data:
        return 'empty file'
    tail = data[-64:].rstrip(b'\x00\r\n ')
    if data[:2] == b'\xff\xd8' and not tail.endswith(b'\xff\xd9'):
        return 'JPEG without end-of-image marker'
    if data[:8] == b'\x89PNG\r\n\x1a\n' and b'IEND' not in data[-32:]:
        return 'PNG without IEND chunk'
    return None


def read_image(path: str) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), naming it if it is bad.

    Args:
        path (str): A local image file.

    Returns:
        np.ndarray: The decoded image.

    Raises:
        FileNotFoundError: ``image not found: PATH``.
        OSError: ``not an image file: PATH`` (any file PIL cannot decode,
            such as a checkpoint given in the wrong place), or ``corrupt or
            truncated image: PATH (reason)``.
    """
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    problem = image_bytes_problem(data)
    if problem == 'empty file':
        raise OSError(f'not an image file: {path} (empty file)')
    if problem:
        raise OSError(f'corrupt or truncated image: {path} ({problem})')
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert('RGB'))
    except UnidentifiedImageError:
        raise OSError(f'not an image file: {path}') from None
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f'corrupt or truncated image: {path} '
                      f'({" ".join(str(err).split())})') from None


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """:class:`LoadImageFromFile` that refuses broken files by name.

    A missing, empty, undecodable or truncated image raises an ``OSError``
    whose message names the file, instead of a decoder warning and a grey
    image or a failure further down the pipeline. Arguments are those of
    :class:`LoadImageFromFile` (``ignore_empty`` still skips the sample).
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'image not found: {filename}') from None
        problem = image_bytes_problem(data)
        img = None
        if not problem:
            try:
                img = mmcv.imfrombytes(
                    data, flag=self.color_type, backend=self.imdecode_backend)
            except (OSError, ValueError, SyntaxError) as err:
                # PIL raises (cv2 returns None); its message has no name
                problem = f'cannot be decoded: {err}'
        if img is None:
            if self.ignore_empty:
                return None
            raise OSError(f'corrupt or truncated image: {filename} '
                          f"({problem or 'cannot be decoded'})")
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
