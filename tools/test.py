"""Evaluate a checkpoint with a config's test set and metric.

Example::

    python tools/test.py configs/cls/CONFIG.py work_dirs/x/epoch_100.pth
"""
import argparse
import os.path as osp

from mmengine.runner import Runner

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.runner import check_dataset_paths
from hpm_mm.runner.cli import add_common_args, parse_common_args
from hpm_mm.runner.config_loading import load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    add_common_args(parser)
    return parse_common_args(parser)


def main() -> None:
    args = parse_args()
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise SystemExit(f'file not found: {path}')
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    check_dataset_paths(cfg)
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
