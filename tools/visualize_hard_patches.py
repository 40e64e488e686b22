"""Show what HPM mines on any image with any HPM checkpoint.

For each image: the input, the teacher's predicted-loss heat map, the mask
split into hard-mined (red) and random (blue) patches, and the student's
reconstruction.

Example::

    python tools/visualize_hard_patches.py configs/pretrain/hpm_vit-b.py \
        work_dirs/hpm_vit-b/epoch_800.pth img1.jpg img2.jpg --out hpm.png
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import hpm_mm  # noqa: F401
from hpm_mm.converters import (CheckpointError, check_checkpoint,
                               load_model_weights)
from hpm_mm.runner import exit_on_input_error
from hpm_mm.visualization import mine_hard_patches, plot_hard_patches
from hpm_mm.visualization.hard_patches import load_image

PROG = 'visualize_hard_patches'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='HPM config the checkpoint was '
                        'trained with')
    parser.add_argument('checkpoint', help='hpm_mm checkpoint (ours, or the '
                        "authors' converted by tools/convert_checkpoint.py)")
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out', default='hard_patches.png', help='PNG file')
    parser.add_argument(
        '--alpha', type=float, default=0.5,
        help='hard fraction of the masked patches (default 0.5, the end of '
        'the easy-to-hard schedule)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random part of the mask')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for path in [args.config, args.checkpoint] + args.images:
        if not osp.isfile(path):
            sys.exit(f'{PROG}: error: file not found: {path}')
    if not 0.0 <= args.alpha <= 1.0:
        sys.exit(f'{PROG}: error: --alpha must be in [0, 1], got '
                 f'{args.alpha}')
    cfg = Config.fromfile(args.config)
    if cfg.model.get('type') != 'HPM':
        sys.exit(f'{PROG}: error: {args.config} is not an HPM config (model '
                 f"type {cfg.model.get('type')!r})")
    size = cfg.model.backbone.get('img_size', 224)
    size = size[0] if isinstance(size, (tuple, list)) else size
    # the images and the checkpoint file are read before the model is built
    with exit_on_input_error(PROG, (OSError, CheckpointError)):
        images = [load_image(p, size) for p in args.images]
        check_checkpoint(args.checkpoint)
    model = MODELS.build(cfg.model)
    with exit_on_input_error(PROG, (CheckpointError, )):
        load_model_weights(model, args.checkpoint)
    model.to(args.device)
    results = mine_hard_patches(model, images, alpha=args.alpha,
                                seed=args.seed)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    plot_hard_patches(results, args.out,
                      title=f'HPM hard patches (alpha={args.alpha})')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
