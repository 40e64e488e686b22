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
from hpm_mm.converters import CheckpointError
from hpm_mm.engine import (CheckpointKeysHook, OutputWriteError,
                           close_distributed)
from hpm_mm.cli import (ConfigError, add_safe_globals_hook, check_inputs,
                        check_model_config, exit_on_input_error,
                        init_cpu_distributed, naming_the_key,
                        setup_cpu_distributed)
from hpm_mm.cli.args import add_common_args, parse_common_args
from hpm_mm.cli.config_loading import load_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--out',
        help="predictions, as the config's library writes them: a .pkl of "
        "the test samples' predictions (mmpretrain, mmdet: DumpResults / "
        'DumpDetResults), or a folder of predicted label PNGs (mmseg); with '
        '--out-item metrics, the metrics (.json, .yaml or .pkl)')
    parser.add_argument(
        '--out-item',
        choices=['pred', 'metrics'],
        default='pred',
        help='what --out holds (default: pred)')
    parser.add_argument(
        '--show-dir',
        help='draw the predictions of every test image into this folder '
        "(the library's visualization hook; mmdet puts a relative path "
        'under WORK_DIR/TIMESTAMP)')
    add_common_args(parser)
    return parse_common_args(parser, argv)


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Turn on the library's visualization hook, as its test.py does."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ValueError('--show-dir needs default_hooks.visualization in '
                         'the config')
    scope = cfg.get('default_scope')
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=show_dir, interval=1)
    elif scope == 'mmdet':
        hook.update(draw=True, test_out_dir=show_dir, interval=1)
    elif scope == 'mmseg':
        hook.update(draw=True, interval=1)
        cfg.visualizer.save_dir = show_dir
    else:
        raise ValueError(f'--show-dir: unknown default_scope {scope!r}')


def dump_predictions(cfg: Config, out: str) -> Optional[type]:
    """Set up saving the predictions as the library's own test.py does.

    mmseg: its ``IoUMetric`` writes predicted label PNGs to the folder
    ``out`` (set here in the config). mmpretrain and mmdet: the returned
    dumper class is to be appended to the runner's test evaluator; it
    pickles the predictions to ``out``.

    Returns:
        type | None: ``DumpResults`` / ``DumpDetResults``, None for mmseg.
    """
    scope = cfg.get('default_scope')
    if scope == 'mmseg':
        cfg.test_evaluator.update(output_dir=out, keep_results=True)
        return None
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl file for {scope}: {out}')
    if scope == 'mmdet':  # masks RLE-encoded, as mmdet's test.py does
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults
    from mmengine.evaluator import DumpResults
    return DumpResults


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise SystemExit(f'test: error: file not found: {path}')
    # Bad inputs stop here, in one line, before the model is built.
    with exit_on_input_error('test', (CheckpointError, FileNotFoundError,
                                      ValueError, OutputWriteError)):
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        cfg.launcher = args.launcher
        setup_cpu_distributed(cfg, args.launcher)
        add_safe_globals_hook(cfg)
        cfg.load_from = args.checkpoint
        cfg.resume = False
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
            './work_dirs',
            osp.splitext(osp.basename(args.config))[0])
        check_model_config(cfg)
        check_inputs(cfg, loaders=('test_dataloader', ), init_cfg=False)
        if args.show_dir:
            enable_visualization(cfg, args.show_dir)
        dumper = dump_predictions(cfg, args.out) \
            if args.out and args.out_item == 'pred' else None
    init_cpu_distributed(cfg.launcher, cfg.get('env_cfg', {}).get('dist_cfg'))
    with exit_on_input_error('test', (ConfigError, )), naming_the_key(cfg):
        runner = Runner.from_cfg(cfg)
    if not any(isinstance(h, CheckpointKeysHook) for h in runner.hooks):
        # mmengine loads load_from with strict=False: refuse a checkpoint
        # that does not fit the model instead of testing a half-loaded one
        runner.register_hook(CheckpointKeysHook())
    if dumper is not None:
        runner.test_evaluator.metrics.append(dumper(out_file_path=args.out))
    with exit_on_input_error('test', (CheckpointError, )):
        metrics = runner.test()
    del runner  # its model wrapper holds the process group
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    close_distributed()


if __name__ == '__main__':
    main(sys.argv[1:])
