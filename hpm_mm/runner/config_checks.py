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


def _pretrained_paths(node, where: str) -> Iterator[Tuple[str, str]]:
    """(location, path) of every checkpoint a model config reads.

    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` and any module
    config with a ``checkpoint`` path (e.g. the frozen networks of HPM's
    feature targets, ``model.target_generator.checkpoint``).
    """
    if isinstance(node, dict):
        if node.get('type') is not None and isinstance(
                node.get('checkpoint'), str) and node['checkpoint']:
            yield f'{where}.checkpoint', node['checkpoint']
        init = node.get('init_cfg')
        for item in init if isinstance(init, list) else [init]:
            if isinstance(item, dict) and item.get('type') == 'Pretrained' \
                    and item.get('checkpoint'):
                yield f'{where}.init_cfg.checkpoint', str(item['checkpoint'])
        for key, val in node.items():
            if key not in ('init_cfg', 'checkpoint'):
                yield from _pretrained_paths(val, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, val in enumerate(node):
            yield from _pretrained_paths(val, f'{where}[{i}]')


def check_checkpoint_paths(cfg: Config) -> None:
    """Raise ``FileNotFoundError`` naming a missing checkpoint of ``cfg``.

    Checks ``load_from``, every ``init_cfg=dict(type='Pretrained',
    checkpoint=...)`` under ``model`` and every module config with a
    ``checkpoint`` path, such as a feature target's (local paths only).
    """
    found = list(_pretrained_paths(cfg.get('model'), 'model'))
    if cfg.get('load_from') and not cfg.get('resume', False):
        found.append(('load_from', str(cfg.load_from)))
    for where, path in found:
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'{where} does not exist: {path} (make one with '
                'tools/convert_checkpoint.py or set it with --cfg-options)')


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
