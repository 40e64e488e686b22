"""Show what HPM mines on any image with any HPM checkpoint.

For each image: the input, the teacher's predicted-loss heat map, the mask
split into hard-mined (red) and random (blue) patches, and the student's
reconstruction. The work is done by :class:`hpm_mm.apis.HardPatchInferencer`;
this is its command line.

Example::

    python tools/visualize_hard_patches.py configs/pretrain/hpm_vit-b.py \
        work_dirs/hpm_vit-b/epoch_800.pth img1.jpg img2.jpg --out hpm.png
"""
import argparse
import os
import os.path as osp

from mmengine.device import get_device

from hpm_mm.apis import HardPatchInferencer
from hpm_mm.datasets import read_image
from hpm_mm.cli import one_line_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='HPM config the checkpoint was '
                        'trained with, or its name in mmpretrain.list_models')
    parser.add_argument('checkpoint', help='hpm_mm checkpoint (ours, or the '
                        "authors' converted by tools/convert_checkpoint.py)")
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--out', default='hard_patches.png', help='PNG file')
    parser.add_argument(
        '--alpha', type=float, default=0.5,
        help='hard fraction of the masked patches (default 0.5, the end of '
        'the easy-to-hard schedule)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random part of the mask')
    parser.add_argument('--device', default=get_device())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with one_line_errors('visualize_hard_patches'):
        for path in args.images:  # fail on a bad image before the model
            if osp.isfile(path):
                read_image(path)
        inferencer = HardPatchInferencer(
            args.config, args.checkpoint, device=args.device)
        results = inferencer(args.images, alpha=args.alpha, seed=args.seed)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    inferencer.visualize(results, args.out,
                         title=f'HPM hard patches (alpha={args.alpha})')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
