"""Show what a video HPM mines on any clip with any VideoHPM checkpoint.

For each video, at every time step: the frame, the teacher's per-token
predicted losses (and, last column, the tube scores it ranks), the mask
split into mined (red) and random (blue) tubes, and the student's
reconstruction. The work is done by :class:`hpm_mm.apis.HardTubeInferencer`;
this is its command line.

Example::

    python tools/visualize_hard_tubes.py \
        configs/pretrain/hpm_vit-video-demo_cpu.py \
        outputs/demo_video/iter_600.pth clip1.mp4 clip2.mp4 \
        --frame-interval 1 --out tubes.png
"""
import argparse
import os
import os.path as osp

from mmengine.device import get_device

from hpm_mm.apis import HardTubeInferencer
from hpm_mm.cli import one_line_errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='VideoHPM config the checkpoint was '
                        'trained with')
    parser.add_argument('checkpoint', help='hpm_mm VideoHPM checkpoint')
    parser.add_argument('videos', nargs='+', help='video files or folders')
    parser.add_argument('--out', default='hard_tubes.png', help='PNG file')
    parser.add_argument(
        '--alpha', type=float, default=0.5,
        help='mined fraction of the masked tubes (default 0.5, the end of '
        'the easy-to-hard schedule)')
    parser.add_argument('--frame-interval', type=int, default=4,
                        help='frames between sampled frames (default 4, '
                        "Kinetics-400's 16x4)")
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random part of the mask')
    parser.add_argument('--device', default=get_device())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with one_line_errors('visualize_hard_tubes'):
        for path in args.videos:  # name a missing file before the model
            if not osp.exists(path):
                raise FileNotFoundError(f'video not found: {path}')
        inferencer = HardTubeInferencer(
            args.config, args.checkpoint, device=args.device,
            frame_interval=args.frame_interval)
        results = inferencer(args.videos, alpha=args.alpha, seed=args.seed)
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        inferencer.visualize(
            results, args.out,
            title=f'VideoHPM hard tubes (alpha={args.alpha})')
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
