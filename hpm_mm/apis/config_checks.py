"""Pre-flight checks of a config, so mistakes fail at once and clearly."""
import os.path as osp
from typing import Iterator, Tuple

from mmengine.config import Config

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(cfg: dict) -> Iterator[dict]:
    """Yield every dataset config, unwrapping Concat/Repeat-style wrappers."""
    if not isinstance(cfg, dict):
        return
    inner = cfg.get('dataset') or cfg.get('datasets')
    if inner is None:
        yield cfg
    elif isinstance(inner, (list, tuple)):
        for d in inner:
            yield from _datasets(d)
    else:
        yield from _datasets(inner)


def _paths(ds: dict) -> Iterator[Tuple[str, str]]:
    root = ds.get('data_root') or ''
    if root:
        yield 'data_root', root
    ann = ds.get('ann_file') or ''
    if ann:
        yield 'ann_file', ann if osp.isabs(ann) else osp.join(root, ann)


def check_dataset_paths(cfg: Config) -> None:
    """Raise ``FileNotFoundError`` naming the first missing dataset path.

    Checks ``data_root`` and ``ann_file`` of the train/val/test datasets of
    ``cfg`` (local paths only: ``s3://``-style URIs are left to the backend).

    Args:
        cfg (Config): A full training or test config.
    """
    for loader in _LOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for ds in _datasets(loader_cfg.get('dataset')):
            for key, path in _paths(ds):
                if '://' in str(path):
                    continue
                if not osp.exists(path):
                    raise FileNotFoundError(
                        f'{loader}.dataset.{key} does not exist: {path}')
