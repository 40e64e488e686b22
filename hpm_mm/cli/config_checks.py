"""Pre-flight checks of the files a config names, before the Runner builds
anything; each error is one line naming the config entry and the path."""
import copy
import os.path as osp
import sys
from typing import Iterator, Sequence, Tuple

from mmengine.config import Config

from ..converters import CheckpointError, check_checkpoint
from ..fileio import check_writable_dir

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class DatasetError(ValueError):
    """A dataset that holds no usable sample; the message names the file."""


def _checkpoints(node, where: str) -> Iterator[Tuple[str, str]]:
    """``(config key, path)`` of every checkpoint a model config reads: any
    module's ``checkpoint`` (``model.target_generator.checkpoint``), the
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` included."""
    if isinstance(node, (list, tuple)):
        for i, val in enumerate(node):
            yield from _checkpoints(val, f'{where}[{i}]')
    elif isinstance(node, dict):
        path = node.get('checkpoint')
        if node.get('type') and path and isinstance(path, str):
            yield f'{where}.checkpoint', path
        for key, val in node.items():
            yield from _checkpoints(val, f'{where}.{key}')


def check_checkpoint_paths(cfg: Config, init_cfg: bool = True) -> None:
    """Open (cheaply, without the tensors) every local checkpoint of
    ``cfg``: ``load_from`` and, if ``init_cfg``, those of the model.

    Raises:
        FileNotFoundError, CheckpointError: Naming the config key and the
            file, e.g. ``load_from: not a PyTorch checkpoint (or
            truncated): x.pth``.
    """
    found = list(_checkpoints(cfg.get('model'), 'model')) if init_cfg \
        else []
    if cfg.get('load_from'):
        found.append(('--resume' if cfg.get('resume') else 'load_from',
                      str(cfg.load_from)))
    for where, path in found:
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'{where} does not exist: {path} (make one with '
                'tools/convert_checkpoint.py or set it with --cfg-options)')
        try:
            check_checkpoint(path)
        except CheckpointError as err:
            raise CheckpointError(f'{where}: {err}') from None


def check_dataset_paths(cfg: Config,
                        loaders: Sequence[str] = _LOADERS) -> None:
    """Check the datasets of ``loaders`` before anything is built.

    The dataset is built with ``lazy_init`` to resolve ``ann_file`` and the
    image or video folder as the Runner will; the first line of an
    mmpretrain image list or an mmaction video list (``VideoDataset``) is
    read. Datasets that do not build so (and dataset wrappers) are left to
    the Runner.

    Raises:
        FileNotFoundError: A local ``data_root`` or ``ann_file`` that does
            not exist.
        DatasetError: A list that lists no image or video, or whose first
            file is not where ``data_root`` and ``data_prefix`` put it.
    """
    from mmengine.registry import DATASETS, DefaultScope
    from mmpretrain.datasets import CustomDataset
    for loader in loaders:
        ds_cfg = (cfg.get(loader) or {}).get('dataset')
        if not isinstance(ds_cfg, dict):
            continue
        root, ann = ds_cfg.get('data_root') or '', ds_cfg.get('ann_file')
        for key, path in (('data_root', root),
                          ('ann_file', osp.join(root, ann) if ann else '')):
            if path and '://' not in path and not osp.exists(path):
                raise FileNotFoundError(
                    f'{loader}.dataset.{key} does not exist: {path}')
        try:
            with DefaultScope.overwrite_default_scope(
                    cfg.get('default_scope')):
                ds = DATASETS.build(dict(copy.deepcopy(ds_cfg),
                                         lazy_init=True, pipeline=[]))
        except Exception:  # noqa: BLE001  (the Runner will report it)
            continue
        ann = getattr(ds, 'ann_file', '') or ''
        video = sys.modules.get('mmaction.datasets')  # imported if built
        if video and isinstance(ds, video.VideoDataset):
            kind, prefix = 'videos', ds.data_prefix.get('video') or ''
        elif isinstance(ds, CustomDataset):
            kind, prefix = 'images', ds.img_prefix
        else:
            continue
        if not osp.isfile(ann):
            continue
        with open(ann, errors='replace') as f:
            first = next((line.strip() for line in f if line.strip()), None)
        if first is None:
            raise DatasetError(f'dataset is empty: {ann} lists 0 {kind}')
        if kind == 'videos':
            name = first.split(ds.delimiter)[0]
            if not osp.splitext(name)[1]:
                name += '.mp4'  # as mmaction's DecordInit reads it
        else:
            name = first.rsplit(' ', 1)[0] if ds.with_label else first
        path = osp.join(prefix, name)
        if '://' not in path and not osp.isfile(path):
            raise DatasetError(
                f'{loader}.dataset: the first {kind[:-1]} {ann} lists does '
                f'not exist: {path} (check data_root and data_prefix)')


def check_inputs(cfg: Config,
                 loaders: Sequence[str] = _LOADERS,
                 init_cfg: bool = True) -> None:
    """All pre-flight checks: checkpoints, dataset paths and lists, and
    that ``work_dir`` can be written (it is created if need be).

    Args:
        cfg (Config): The config the Runner is about to be built from.
        loaders (Sequence[str]): The data loaders that will be used.
        init_cfg (bool): Check the model's ``init_cfg`` checkpoints (only
            loaded for training).
    """
    check_checkpoint_paths(cfg, init_cfg)
    check_dataset_paths(cfg, loaders)
    if cfg.get('work_dir') and '://' not in str(cfg.work_dir):
        check_writable_dir(str(cfg.work_dir), 'work_dir')
