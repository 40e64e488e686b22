"""VideoHPM in minutes on a CPU: where do the mined tubes go?

1. Writes clips of a bright square moving over a smooth background
   (``hpm_mm.testing.video``) as a small Kinetics-400-layout dataset of
   MPEG-4 files (``data/demo_video``, first run only).
2. Pre-trains configs/pretrain/hpm_vit-video-demo_cpu.py with mmengine's
   Runner (progress and ETA in the log).
3. On fresh clips, at the start (the initialised model) and the end of
   training, measures the share of the mined tubes that the square
   crosses, next to the share of all tubes it crosses (what random tubes
   get) and its share of a frame, and how often the teacher scores the
   square's tokens above the background's; prints them, says whether the
   mined tubes land on the square more than chance, and draws the
   teacher's scores, the mined and random tubes and the reconstruction
   over time, and the training curves.

The target is pixels, as in HPM's image recipe; ``--norm-pix`` trains on
VideoMAE's per-token normalised pixels instead (the K400 config's).

Example::

    python tools/demo_video.py             # `make demo-video`
    python tools/demo_video.py --iters 20 --work-dir /tmp/demo_video
    python tools/demo_video.py --norm-pix --work-dir outputs/demo_video_np
"""
import argparse
import math
import os.path as osp
import time
from typing import Dict, List, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import hpm_mm  # noqa: F401
from hpm_mm.apis import HardTubeInferencer
from hpm_mm.cli import setup_train_cfg
from hpm_mm.demo import shrink_schedule
from hpm_mm.structures import HardTubeResult
from hpm_mm.testing.video import moving_square_clip, write_kinetics
from hpm_mm.visualization import (plot_hard_tubes, plot_training_curves,
                                  read_scalars)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-video-demo_cpu.py')
ALPHA = 0.5  # the mined share at the end of the easy-to-hard schedule


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'outputs',
                                                       'demo_video'))
    parser.add_argument('--data-root',
                        default=osp.join(ROOT, 'data', 'demo_video'))
    parser.add_argument('--iters', type=int, default=None,
                        help='override the number of iterations')
    parser.add_argument('--videos', type=int, default=128,
                        help='training videos written on the first run')
    parser.add_argument('--eval-clips', type=int, default=64,
                        help='fresh clips the mined tubes are measured on')
    parser.add_argument(
        '--norm-pix', action='store_true',
        help="VideoMAE's per-token normalised target (the K400 recipe's) "
        "instead of the demo config's pixels")
    return parser.parse_args()


def square_tokens(r: HardTubeResult) -> np.ndarray:
    """The tokens (T / tubelet, Hp, Wp) the square covers: one of their
    pixels in one of their frames. The square is the pure white pixels; the
    background (colours up to 200, smoothly resized) never reaches 255."""
    steps, hp, wp = r.masked.shape
    square = (r.frames == 255).all(-1)  # (T, H, W)
    return square.reshape(steps, -1, hp, square.shape[1] // hp, wp,
                          square.shape[2] // wp).any(axis=(1, 3, 5))


def where_mined(results: Sequence[HardTubeResult]) -> Dict[str, float]:
    """Where the teacher's scores and the mined tubes are, against the
    moving square.

    Returns:
        dict: The shares of the ``mined``, ``random`` and ``all`` (chance)
        tubes that the square crosses (covers at some step), ``num_mined``
        (mined tubes counted), the square's share of a frame (``area``),
        and ``auc``: how often a token the square covers has a higher
        teacher score than one it does not (0.5: no preference).
    """
    counts = dict(mined=[0, 0], random=[0, 0], all=[0, 0])
    on_square, off_square = [], []
    for r in results:
        square = square_tokens(r)
        on_square.append(r.scores[square])
        off_square.append(r.scores[~square])
        on = square.any(0)
        hard = r.hard.any(0)  # tubes: the same at every step
        for key, tubes in (('mined', hard), ('random',
                                             r.masked.any(0) & ~hard),
                           ('all', np.ones_like(on))):
            counts[key][0] += int((on & tubes).sum())
            counts[key][1] += int(tubes.sum())
    out = {k: hit / max(1, n) for k, (hit, n) in counts.items()}
    pos, neg = np.concatenate(on_square), np.concatenate(off_square)
    # Mann-Whitney: the positives' ranks among all scores
    ranks = np.concatenate([pos, neg]).argsort().argsort()[:len(pos)]
    auc = (ranks.sum() - len(pos) * (len(pos) - 1) / 2) / max(
        1, len(pos) * len(neg))
    area = np.mean([(r.frames == 255).all(-1).mean() for r in results])
    return dict(out, area=float(area), auc=float(auc),
                num_mined=counts['mined'][1])


class MeasureAtStart(Hook):
    """Measure the mined tubes of the initialised model, before step 1."""

    def __init__(self, clips: List[np.ndarray]) -> None:
        self.clips = clips
        self.shares: Dict[str, float] = {}
        self.shown: List[HardTubeResult] = []

    def before_train(self, runner: Runner) -> None:
        model = runner.model
        inferencer = HardTubeInferencer(
            model, device=next(model.parameters()).device, frame_interval=1)
        self.shares = where_mined(
            inferencer(self.clips, alpha=ALPHA, return_recon=False))
        self.shown = inferencer(self.clips[:3], alpha=ALPHA)
        model.train()


def main() -> None:
    args = parse_args()
    t0 = time.time()
    cfg = Config.fromfile(CONFIG)
    frames, size = cfg.num_frames, cfg.img_size
    print(f'[demo_video] dataset: {args.data_root}')
    if not osp.isfile(
            osp.join(args.data_root, 'kinetics400_train_list_videos.txt')):
        write_kinetics(args.data_root, num_classes=1, per_class=args.videos,
                       num_frames=frames, size=size)
    cfg.train_dataloader.dataset.data_root = args.data_root
    cfg.model.head.norm_pix = args.norm_pix
    if args.iters is not None:
        shrink_schedule(cfg, args.iters)
    setup_train_cfg(cfg, work_dir=args.work_dir, config_path=CONFIG)
    runner = Runner.from_cfg(cfg)
    rng = np.random.default_rng(1)  # clips the training set has not seen
    clips = [moving_square_clip(rng, frames, size)
             for _ in range(args.eval_clips)]
    start = MeasureAtStart(clips)
    runner.register_hook(start, priority='LOWEST')
    runner.train()

    model = runner.model
    inferencer = HardTubeInferencer(
        model, device=next(model.parameters()).device, frame_interval=1)
    target = 'normalised pixels' if args.norm_pix else 'pixels'
    end = where_mined(inferencer(clips, alpha=ALPHA, return_recon=False))
    figures = [
        plot_hard_tubes(
            shown, osp.join(args.work_dir, f'hard_tubes_{when}.png'),
            title=f'VideoHPM demo, {when} of training ({target})')
        for when, shown in (('start', start.shown),
                            ('end', inferencer(clips[:3], alpha=ALPHA)))
    ]
    curves = plot_training_curves(
        runner.work_dir, osp.join(args.work_dir, 'training_curves.png'))
    accs = [r['rank_acc'] for r in read_scalars(runner.work_dir)
            if 'rank_acc' in r]
    n = max(1, len(accs) // 10)
    # the mined share beats chance if it is 3 standard errors above it
    p = end['all']
    margin = 3 * math.sqrt(p * (1 - p) / max(1, end['num_mined']))
    verdict = ('land on the moving square more often than chance'
               if end['mined'] > p + margin else
               'do NOT land on the moving square more often than chance')
    print(f'[demo_video] done in {time.time() - t0:.0f} s')
    print(f"[demo_video] mined tubes (alpha {ALPHA}) that the moving square "
          f"crosses, on {len(clips)} fresh clips: {start.shares['mined']:.3f}"
          f" at the start -> {end['mined']:.3f} after "
          f'{cfg.train_cfg.max_iters} iterations; random tubes '
          f"{end['random']:.3f}; chance (all tubes) {p:.3f}; the square "
          f"covers {end['area']:.3f} of a frame")
    print(f'[demo_video] after training the mined tubes {verdict} '
          f"({end['mined']:.3f} vs {p:.3f} +- {margin / 3:.3f})")
    print(f'[demo_video] how often the teacher scores a token of the square '
          f"above one of the background (AUC, 0.5 = no preference): "
          f"{start.shares['auc']:.3f} at the start -> {end['auc']:.3f}")
    print(f'[demo_video] loss-predictor ranking accuracy on masked tokens: '
          f'{sum(accs[:n]) / n:.3f} (first 10% of logs) -> '
          f'{sum(accs[-n:]) / n:.3f} (last 10%); chance is 0.5')
    ckpt = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    print(f'[demo_video] checkpoint:       {ckpt}')
    print(f'[demo_video] training curves:  {curves}')
    print(f'[demo_video] hard tubes:       {figures[0]}, {figures[1]}')
    print(f'[demo_video] logs:             {runner.work_dir}')


if __name__ == '__main__':
    main()
