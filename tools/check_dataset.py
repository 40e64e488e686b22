"""Read every image of a config's dataset before a long run.

Counts readable and unreadable images, going through the whole dataset (a
corrupt file does not stop the check), and names each unreadable file with
the reason. Exit code 0 when every image reads, 1 otherwise.

Example::

    python tools/check_dataset.py \\
        configs/pretrain/hpm_vit-b_custom-folder.py \\
        --cfg-options train_dataloader.dataset.data_root=/data/my_images/
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import hpm_mm  # noqa: F401  (registers the HPM pipeline steps)
from hpm_mm.datasets import check_images, loader_args
from hpm_mm.cli import check_dataset_paths


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader to check (default: train)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. '
        'train_dataloader.dataset.data_root=/data/x/')
    return parser.parse_args(argv)


def image_paths(cfg: Config, split: str) -> tuple:
    """Build the split's dataset; return its image paths and loader args."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise ValueError(f'the config has no {split}_dataloader')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmengine.registry import DATASETS
    dataset_cfg = loader['dataset']
    dataset = DATASETS.build(dataset_cfg)
    paths = [
        dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
    ]
    return paths, loader_args(dataset_cfg.get('pipeline'))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if not osp.isfile(args.config):
            raise FileNotFoundError(f'config file not found: {args.config}')
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        check_dataset_paths(cfg)
        paths, loader = image_paths(cfg, args.split)
    except (FileNotFoundError, ValueError, RuntimeError, KeyError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else \
            type(err).__name__
        print(f'check_dataset: error: {msg}', file=sys.stderr)
        return 1

    def progress(n: int) -> None:
        if n % 10000 == 0:
            print(f'... {n}/{len(paths)}', flush=True)

    report = check_images(paths, loader, progress)
    print(f'checked {report.total} images of the {args.split} set: '
          f'{report.readable} readable, {len(report.unreadable)} '
          'unreadable')
    if report.modes:
        print('after loading: ' + ', '.join(
            f'{n} images with {mode}' for mode, n in report.modes.items()))
    for path, reason in report.unreadable:
        # the loader's messages name the file already
        print('unreadable: ' +
              (reason if path in reason else f'{path}: {reason}'))
    if report.unreadable:
        print('remove or replace the unreadable files before training (the '
              'run would stop at the first one)')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
