"""Read every image of a config's dataset before a long run.

Counts readable and unreadable images, going through the whole dataset (a
corrupt file does not stop the check), and names each unreadable file with
the reason. Each file goes through the config's image loader, as
:class:`CheckedLoadImageFromFile`, so what is unreadable here is exactly
what would stop the run. Exit code 0 when every image reads, 1 otherwise.

Example::

    python tools/check_dataset.py \\
        configs/pretrain/hpm_vit-b_custom-folder.py \\
        --cfg-options train_dataloader.dataset.data_root=/data/my_images/
"""
import argparse
import sys
from collections import Counter
from typing import List, Optional

from mmengine.config import DictAction
from mmengine.registry import DATASETS, init_default_scope

from hpm_mm.cli import check_dataset_paths, load_config, one_line_errors
from hpm_mm.datasets import CheckedLoadImageFromFile


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


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    loader = f'{args.split}_dataloader'
    with one_line_errors('check_dataset'):
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        if not cfg.get(loader):
            raise ValueError(f'{args.config} has no {loader}')
        check_dataset_paths(cfg, (loader, ))
        first = dict((cfg[loader].dataset.get('pipeline') or [{}])[0])
        if not str(first.pop('type', '')).endswith('LoadImageFromFile'):
            raise ValueError(f'{loader}.dataset.pipeline does not start '
                             'with an image loader')
        first.pop('_scope_', None)
        load = CheckedLoadImageFromFile(**first)
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        dataset = DATASETS.build(cfg[loader].dataset)

    unreadable, channels = [], Counter()
    for i in range(len(dataset)):
        path = dataset.get_data_info(i)['img_path']
        try:
            img = load(dict(img_path=path))['img']
            channels[img.shape[2] if img.ndim == 3 else 1] += 1
        except (OSError, ValueError) as err:  # its messages name the file
            why = str(err).splitlines()[0]
            unreadable.append(why if path in why else f'{path}: {why}')
        if (i + 1) % 10000 == 0:
            print(f'... {i + 1}/{len(dataset)}', flush=True)
    print(f'checked {len(dataset)} images of the {args.split} set: '
          f'{len(dataset) - len(unreadable)} readable, {len(unreadable)} '
          'unreadable')
    if channels:
        print('after loading: ' + ', '.join(f'{n} images with {c} channels'
                                            for c, n in channels.items()))
    for reason in unreadable:
        print(f'unreadable: {reason}')
    if unreadable:
        print('remove or replace the unreadable files before training (the '
              'run would stop at the first one)')
    return int(bool(unreadable))


if __name__ == '__main__':
    sys.exit(main())
