"""Train an HPM (or any mmpretrain/mmdet/mmseg) config with mmengine.

Examples::

    python tools/train.py configs/pretrain/hpm_vit-b.py
    python tools/train.py configs/pretrain/hpm_vit-b.py --amp bf16
    tools/dist_train.sh configs/pretrain/hpm_vit-b.py 8 --resume auto
"""
import argparse

from mmengine.runner import Runner

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.cli import (check_inputs, init_cpu_distributed, load_config,
                        one_line_errors, setup_train_cfg)
from hpm_mm.cli.args import add_common_args, parse_common_args
from hpm_mm.engine import close_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a model',
        epilog='An error ends in one line; HPM_MM_DEBUG=1 shows its '
        'traceback.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest one in the work dir')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='fp16',
        choices=['fp16', 'bf16'],
        help='mixed precision: fp16 (the default of a bare --amp, with '
        'dynamic loss scaling) or bf16 (no loss scaling; recommended on '
        'Ampere/Hopper GPUs)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr linearly with the total batch size: GPUs x '
        'batch per GPU x optim_wrapper.accumulative_counts')
    add_common_args(parser)
    return parse_common_args(parser)


def main() -> None:
    args = parse_args()
    with one_line_errors('train'):
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        setup_train_cfg(
            cfg,
            work_dir=args.work_dir,
            resume=args.resume,
            amp=args.amp,
            auto_scale_lr=args.auto_scale_lr,
            launcher=args.launcher,
            config_path=args.config,
            resume_on_restart=True)  # torchrun --max-restarts, Slurm requeue
        check_inputs(cfg)  # files named in the config, before the build
        init_cpu_distributed(cfg.launcher, cfg)
        runner = Runner.from_cfg(cfg)
        counts = cfg.optim_wrapper.get('accumulative_counts', 1)
        if args.auto_scale_lr and counts != 1:
            # Runner.scale_lr divides by base_batch_size the images of one
            # backward pass; a step sees `counts` of them
            scale = runner.auto_scale_lr
            runner.auto_scale_lr = dict(
                scale, base_batch_size=scale['base_batch_size'] / counts)
        runner.train()
    del runner  # its model wrapper holds the process group
    close_distributed()


if __name__ == '__main__':
    main()
