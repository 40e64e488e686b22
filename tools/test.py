"""Evaluate a checkpoint with a config's test set and metric.

Example::

    python tools/test.py configs/cls/CONFIG.py work_dirs/x/epoch_100.pth
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.converters import CheckpointError
from hpm_mm.engine.hooks import CheckpointKeysHook
from hpm_mm.runner import check_inputs, exit_on_input_error
from hpm_mm.runner.cli import add_common_args, parse_common_args


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
            raise SystemExit(f'test: error: file not found: {path}')
    # Bad inputs stop here, in one line, before the model is built.
    with exit_on_input_error('test'):
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        cfg.launcher = args.launcher
        cfg.load_from = args.checkpoint
        cfg.resume = False
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            './work_dirs',
            osp.splitext(osp.basename(args.config))[0])
        check_inputs(cfg, loaders=('test_dataloader', ), init_cfg=False)
    runner = Runner.from_cfg(cfg)
    if not any(isinstance(h, CheckpointKeysHook) for h in runner.hooks):
        # mmengine loads load_from with strict=False: refuse a checkpoint
        # that does not fit the model instead of testing a half-loaded one
        runner.register_hook(CheckpointKeysHook())
    with exit_on_input_error('test', (CheckpointError, )):
        runner.test()


if __name__ == '__main__':
    main()
