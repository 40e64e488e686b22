"""Pre-flight checks of a config, so mistakes fail at once and clearly.

Each check raises an error whose message is one line naming the config
entry and the path; :func:`check_inputs` runs them all before the Runner
builds the model.
"""
import copy
import os
import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.config import Config

from ..converters import CheckpointError, check_checkpoint
from ..errors import ConfigError
from ..fileio import check_writable_dir

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                     '.tiff', '.webp')


class DatasetError(ValueError):
    """A dataset that holds no usable sample; the message names the file."""


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


def _loader_datasets(cfg: Config,
                     loaders: Sequence[str]) -> Iterator[Tuple[str, dict]]:
    """Yield ``(loader name, dataset config)`` for the loaders ``cfg`` has."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if loader_cfg:
            for ds in _datasets(loader_cfg.get('dataset')):
                yield loader, ds


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


def check_checkpoint_paths(cfg: Config, init_cfg: bool = True) -> None:
    """Raise naming a missing or unreadable checkpoint of ``cfg``.

    Checks ``load_from`` (the checkpoint to resume from when ``resume`` is
    set), every ``init_cfg=dict(type='Pretrained', checkpoint=...)`` under
    ``model`` and every module config with a ``checkpoint`` path, such as a
    feature target's (local paths only). Files are opened as
    :func:`~hpm_mm.converters.check_checkpoint` does: cheaply, without
    reading the tensors.

    Args:
        cfg (Config): A full training or test config.
        init_cfg (bool): Check the ``init_cfg`` checkpoints too (they are
            only loaded for training). Defaults to True.

    Raises:
        FileNotFoundError: A checkpoint file does not exist.
        CheckpointError: A file is not a (complete) torch checkpoint, e.g.
            ``load_from: not a PyTorch checkpoint (or truncated): x.pth``.
    """
    found = list(_pretrained_paths(cfg.get('model'), 'model')) \
        if init_cfg else []
    if cfg.get('load_from'):
        found.append(('resume' if cfg.get('resume', False) else 'load_from',
                      str(cfg.load_from)))
    for where, path in found:
        if '://' in path:
            continue
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{where} does not exist: {path} (make one with '
                'tools/convert_checkpoint.py or set it with --cfg-options)')
        try:
            check_checkpoint(path)
        except CheckpointError as err:
            raise CheckpointError(f'{where}: {err}') from None


def check_dataset_paths(cfg: Config,
                        loaders: Sequence[str] = _LOADERS) -> None:
    """Raise ``FileNotFoundError`` naming the first missing dataset path.

    Checks ``data_root`` and ``ann_file`` of the train/val/test datasets of
    ``cfg`` (local paths only: ``s3://``-style URIs are left to the backend).

    Args:
        cfg (Config): A full training or test config.
        loaders (Sequence[str]): The data loaders to check.
    """
    for loader, ds in _loader_datasets(cfg, loaders):
        for key, path in _paths(ds):
            if '://' in str(path):
                continue
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'{loader}.dataset.{key} does not exist: {path}')


def _lazy_dataset(ds_cfg: dict, default_scope: Optional[str]):
    """The dataset built without loading its annotations, or None.

    The constructor resolves ``ann_file`` and ``data_prefix`` exactly as the
    Runner's build will (e.g. mmpretrain's ``ImageNet(split='train')``
    finds ``meta/train.txt``); datasets that cannot be built lazily are
    left to the Runner.
    """
    from mmengine.registry import DATASETS, DefaultScope
    ds_cfg = copy.deepcopy(dict(ds_cfg))
    ds_cfg['lazy_init'] = True
    ds_cfg['pipeline'] = []
    try:
        with DefaultScope.overwrite_default_scope(default_scope):
            return DATASETS.build(ds_cfg)
    except Exception:  # noqa: BLE001  (the Runner will report it)
        return None


def _first_image(folder: str, extensions: Tuple[str, ...]) -> Optional[str]:
    for parent, _, files in os.walk(folder, followlinks=True):
        for name in files:
            if name.lower().endswith(extensions):
                return osp.join(parent, name)
    return None


def _check_listing(where: str, ds) -> None:
    """Raise :class:`DatasetError` if the built (lazy) dataset is empty."""
    from mmpretrain.datasets import CustomDataset
    ann = getattr(ds, 'ann_file', '') or ''
    prefix = getattr(ds, 'data_prefix', None) or {}
    folder = prefix.get('img_path') if isinstance(prefix, dict) else None
    if ann:
        if '://' in ann or not osp.isfile(ann):
            return
        if osp.getsize(ann) == 0:
            raise DatasetError(f'dataset is empty: {ann} lists 0 images')
        if not isinstance(ds, CustomDataset):
            return  # other formats (COCO json, ...) are not read here
        # mmpretrain's list: one "path [label]" line per image
        with open(ann, errors='replace') as f:
            first = next((line.strip() for line in f if line.strip()), None)
        if first is None:
            raise DatasetError(f'dataset is empty: {ann} lists 0 images')
        if '://' not in ds.img_prefix:
            name = first.rsplit(' ', 1)[0] if ds.with_label else first
            path = osp.join(ds.img_prefix, name)
            if not osp.isfile(path):
                raise DatasetError(
                    f'{where}: the first image {ann} lists does not exist: '
                    f'{path} (check data_root and data_prefix)')
    elif folder and '://' not in folder and osp.isdir(folder):
        exts = getattr(ds, 'extensions', None) or getattr(
            ds, 'img_suffix', None) or _IMAGE_EXTENSIONS
        exts = tuple(sorted({e.lower() for e in ([exts] if isinstance(
            exts, str) else exts)}))
        if _first_image(folder, exts) is None:
            raise DatasetError(f'dataset is empty: {folder} holds 0 images '
                               f'({"/".join(exts)})')


def check_datasets_not_empty(cfg: Config,
                             loaders: Sequence[str] = _LOADERS) -> None:
    """Raise :class:`DatasetError` for a dataset without any image.

    An annotation list with no entry stops with ``dataset is empty:
    data/imagenet/meta/train.txt lists 0 images``; a folder dataset (no
    ``ann_file``) without any image file with ``... holds 0 images``; an
    mmpretrain list whose first image is not where ``data_root`` and
    ``data_prefix`` put it, naming that path. Costs a read of the list's
    first line (or a folder scan up to the first image), not a load of the
    annotations. Run :func:`check_dataset_paths` first.

    Args:
        cfg (Config): A full training or test config.
        loaders (Sequence[str]): The data loaders to check.
    """
    for loader, ds_cfg in _loader_datasets(cfg, loaders):
        ds = _lazy_dataset(ds_cfg, cfg.get('default_scope'))
        if ds is not None:
            _check_listing(f'{loader}.dataset', ds)


def check_hpm_hooks(cfg: Config) -> None:
    """Raise :class:`ConfigError` when HPM would train without its hook.

    :class:`HPMTeacherHook` sets the masker's ``alpha_t`` before every
    iteration and updates the teacher after every optimizer step; without
    it HPM stops at its first step (or, with a constant ``alpha_t``, would
    train against a teacher that never moves).

    Args:
        cfg (Config): A training config.
    """
    model = cfg.get('model') or {}
    if model.get('type') not in ('HPM', 'mmpretrain.HPM'):
        return
    hooks = [h.get('type') for h in cfg.get('custom_hooks') or []
             if isinstance(h, dict)]
    if not any(str(t).split('.')[-1] == 'HPMTeacherHook' for t in hooks):
        raise ConfigError(
            "custom_hooks has no dict(type='HPMTeacherHook'): HPM needs it "
            "to set alpha_t and to update the teacher every step")


def check_inputs(cfg: Config,
                 loaders: Sequence[str] = _LOADERS,
                 init_cfg: bool = True) -> None:
    """All pre-flight checks: checkpoints, dataset paths and contents, and
    that ``work_dir`` can be written (it is created if need be).

    Args:
        cfg (Config): The config the Runner is about to be built from.
        loaders (Sequence[str]): The data loaders that will be used.
        init_cfg (bool): Check the ``init_cfg`` checkpoints (training).

    Raises:
        FileNotFoundError, DatasetError, CheckpointError, ConfigError,
            OutputWriteError: With a one-line message naming the config
            entry (and the path).
    """
    if 'train_dataloader' in loaders:
        check_hpm_hooks(cfg)
    check_checkpoint_paths(cfg, init_cfg)
    check_dataset_paths(cfg, loaders)
    check_datasets_not_empty(cfg, loaders)
    work_dir = cfg.get('work_dir')
    if work_dir and '://' not in str(work_dir):
        check_writable_dir(str(work_dir), 'work_dir')
