"""Evaluate a checkpoint with a config's test set and metric.

Examples::

    python tools/test.py configs/cls/CONFIG.py work_dirs/x/epoch_100.pth
    # predictions to a pickle, drawn predictions to a folder
    python tools/test.py CONFIG CKPT --out results.pkl --show-dir vis
    # multi-GPU / Slurm
    tools/dist_test.sh CONFIG CKPT 8
    tools/slurm_test.sh PARTITION JOB CONFIG CKPT
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import mmengine
from mmengine.config import Config
from mmengine.runner import Runner

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.cli import (add_custom_hooks, check_inputs, init_cpu_distributed,
                        load_config, one_line_errors)
from hpm_mm.cli.args import add_common_args, parse_common_args
from hpm_mm.engine import close_distributed


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--out',
        help='predictions: a .pkl (mmpretrain, mmdet) or a folder of label '
        'PNGs (mmseg); with --out-item metrics, the metrics (.json/.pkl)')
    parser.add_argument(
        '--out-item', choices=['pred', 'metrics'], default='pred')
    parser.add_argument(
        '--show-dir', help='draw the predictions of every test image here '
        '(mmdet puts a relative path under WORK_DIR/TIMESTAMP)')
    add_common_args(parser)
    return parse_common_args(parser, argv)


def set_outputs(cfg: Config, out: Optional[str], out_item: str,
                show_dir: Optional[str]) -> None:
    """Set up ``--show-dir`` and ``--out`` as the library's test.py does:
    a dumper joins the test metrics to pickle the predictions to ``out``
    (mmdet's ``DumpDetResults`` RLE-encodes masks), except for mmseg,
    whose ``IoUMetric`` writes the label PNGs to the folder ``out``."""
    scope = cfg.get('default_scope')
    if show_dir:
        hook = cfg.get('default_hooks', {}).get('visualization')
        if hook is None or scope not in ('mmpretrain', 'mmdet', 'mmseg'):
            raise ValueError('--show-dir needs default_hooks.visualization '
                             'and an mmpretrain, mmdet or mmseg config')
        hook.update(dict(enable=True, out_dir=show_dir) if scope ==
                    'mmpretrain' else dict(draw=True), interval=1)
        if scope == 'mmdet':
            hook.test_out_dir = show_dir
        elif scope == 'mmseg':
            cfg.visualizer.save_dir = show_dir
    if not out or out_item != 'pred':
        return
    if scope == 'mmseg':
        cfg.test_evaluator.update(output_dir=out, keep_results=True)
        return
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl file for {scope}: {out}')
    metrics = cfg.test_evaluator
    cfg.test_evaluator = (list(metrics) if isinstance(metrics, (
        list, tuple)) else [metrics]) + [dict(
            type='DumpDetResults' if scope == 'mmdet' else 'DumpResults',
            out_file_path=out)]


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with one_line_errors('test'):
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        cfg.launcher = args.launcher
        # mmengine loads load_from with strict=False: CheckpointKeysHook
        # refuses a checkpoint that does not fit instead of testing half of it
        add_custom_hooks(cfg, 'CheckpointSafeGlobalsHook',
                         'CheckpointKeysHook')
        cfg.load_from, cfg.resume = args.checkpoint, False
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            './work_dirs', osp.splitext(osp.basename(args.config))[0])
        check_inputs(cfg, loaders=('test_dataloader', ), init_cfg=False)
        set_outputs(cfg, args.out, args.out_item, args.show_dir)
        init_cpu_distributed(cfg.launcher, cfg)
        metrics = Runner.from_cfg(cfg).test()
        if args.out and args.out_item == 'metrics':
            mmengine.dump(metrics, args.out)
    close_distributed()


if __name__ == '__main__':
    main(sys.argv[1:])
