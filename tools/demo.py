"""HPM in minutes on a CPU: real photographs, real training, pictures.

1. Turns scikit-image's sample photographs into a small ImageNet-format
   dataset (``data/demo_imagenet``, first run only).
2. Pre-trains configs/pretrain/hpm_vit-demo_cpu.py with mmengine's Runner
   (progress and ETA in the log).
3. Writes the training curves and a hard-patch visualisation, and prints
   the ranking accuracy of the loss predictor at the start and the end.

Example::

    python tools/demo.py                   # the README's first command
    python tools/demo.py --iters 20 --work-dir /tmp/demo   # a quick look
"""
import argparse
import os.path as osp
import time

from mmengine.config import Config
from mmengine.runner import Runner

import hpm_mm  # noqa: F401
from hpm_mm.cli import setup_train_cfg
from hpm_mm.demo import (build_sample_imagenet, load_sample_photo,
                          shrink_schedule)
from hpm_mm.apis import HardPatchInferencer
from hpm_mm.visualization import (plot_hard_patches, plot_training_curves,
                                  read_scalars)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-demo_cpu.py')
SHOWN = ('astronaut', 'chelsea', 'coffee', 'rocket')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'outputs',
                                                       'demo'))
    parser.add_argument('--data-root',
                        default=osp.join(ROOT, 'data', 'demo_imagenet'))
    parser.add_argument('--iters', type=int, default=None,
                        help='override the number of iterations')
    parser.add_argument('--crops-per-image', type=int, default=40)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    t0 = time.time()
    print(f'[demo] dataset: {args.data_root}')
    build_sample_imagenet(args.data_root,
                          crops_per_image=args.crops_per_image)
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.data_root = args.data_root
    if args.iters is not None:
        shrink_schedule(cfg, args.iters)
    setup_train_cfg(cfg, work_dir=args.work_dir, config_path=CONFIG)
    runner = Runner.from_cfg(cfg)
    runner.train()

    curves = plot_training_curves(
        runner.work_dir, osp.join(args.work_dir, 'training_curves.png'))
    model = runner.model
    inferencer = HardPatchInferencer(
        model, device=next(model.parameters()).device)
    # BGR arrays, as mmcv reads images
    photos = [load_sample_photo(n)[..., ::-1] for n in SHOWN]
    vis = plot_hard_patches(
        inferencer(photos, alpha=0.5),
        osp.join(args.work_dir, 'hard_patches.png'),
        title='HPM demo: teacher heat map, hard-mined (red) vs random '
        '(blue) masked patches, reconstruction')
    rows = read_scalars(runner.work_dir)
    accs = [r['rank_acc'] for r in rows if 'rank_acc' in r]
    n = max(1, len(accs) // 10)  # mean of the first and last 10% of logs
    ckpt = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    print(f'[demo] done in {time.time() - t0:.0f} s')
    print(f'[demo] loss-predictor ranking accuracy on masked patches: '
          f'{sum(accs[:n]) / n:.3f} (first 10% of logs) -> '
          f'{sum(accs[-n:]) / n:.3f} (last 10%); '
          'chance is 0.5')
    print(f'[demo] checkpoint:       {ckpt}')
    print(f'[demo] training curves:  {curves}')
    print(f'[demo] hard patches:     {vis}')
    print(f'[demo] logs:             {runner.work_dir}')


if __name__ == '__main__':
    main()
