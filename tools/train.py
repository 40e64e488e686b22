"""Train an HPM (or any mmpretrain/mmdet/mmseg) config with mmengine.

Examples::

    python tools/train.py configs/pretrain/hpm_vit-b.py
    python tools/train.py configs/pretrain/hpm_vit-b.py --amp bf16
    tools/dist_train.sh configs/pretrain/hpm_vit-b.py 8 --resume auto
"""
import argparse
import os

from mmengine.runner import Runner

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.converters import CheckpointError
from hpm_mm.engine import OutputWriteError, close_distributed
from hpm_mm.cli import (ConfigError, check_inputs, check_model_config,
                        exit_on_input_error, init_cpu_distributed,
                        naming_the_key, setup_train_cfg)
from hpm_mm.cli.args import add_common_args, parse_common_args
from hpm_mm.cli.config_loading import load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
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
        help='scale the lr linearly with the real total batch size')
    add_common_args(parser)
    return parse_common_args(parser)


def main() -> None:
    args = parse_args()
    if not os.path.isfile(args.config):
        raise SystemExit(f'train: error: config file not found: '
                         f'{args.config}')
    # Bad inputs stop here, in one line, before the model is built.
    with exit_on_input_error('train'):
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
        check_model_config(cfg)
        check_inputs(cfg)
    init_cpu_distributed(cfg.launcher, cfg.get('env_cfg', {}).get('dist_cfg'))
    # Config entries that do not fit together (an encoder and a decoder of
    # different widths) and values a module refuses (alpha_max=1.5) are
    # found when the model is built, and named by their config keys.
    with exit_on_input_error('train', (ConfigError, )), naming_the_key(cfg):
        runner = Runner.from_cfg(cfg)
    # A checkpoint that does not fit the model (load_from, resume, a
    # backbone's init_cfg) is refused before the first iteration; one that
    # cannot be written (disk full) stops training in one line.
    with exit_on_input_error('train', (CheckpointError, OutputWriteError)):
        runner.train()
    del runner  # its model wrapper holds the process group
    close_distributed()


if __name__ == '__main__':
    main()
