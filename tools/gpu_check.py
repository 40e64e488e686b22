"""One-shot check of hpm_mm's GPU paths on one GPU (nothing to download,
all data is generated).

1. mmcv's CUDA ops: RoIAlign and NMS on the GPU equal their CPU results.
2. HPM's and MAE's training step (``hpm_mm.profiling``, what
   tools/benchmark.py prints) at ViT-B/16, batch 64, fp16 and bf16
   autocast: images/s, CUDA peak memory, HPM/MAE time and FLOP ratios.
3. 100 AMP (fp16) pre-training iterations of configs/pretrain/hpm_vit-b.py
   on generated images: every logged loss finite.
4. 20 training iterations each of the Mask R-CNN and UperNet configs on
   tiny generated COCO / ADE20K datasets (AMP as in the configs).

Examples::

    python tools/gpu_check.py                  # on a GPU machine
    python tools/gpu_check.py --dry-run        # CPU, tiny sizes (make test)

Exits non-zero at the first failed check, with a one-line reason.
"""
import argparse
import math
import os
import os.path as osp
import tempfile
import time
from contextlib import nullcontext

import torch

import hpm_mm  # noqa: F401
from hpm_mm.profiling import measure_step_cost
from hpm_mm.testing import (shrink_det, shrink_seg, write_ade20k, write_coco,
                            write_imagenet)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# dry run: tiny widths and images (the recipes are kept)
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dry-run', action='store_true',
                   help='CPU, tiny models and few iterations: checks that '
                   'every step runs (no numbers worth reading)')
    p.add_argument('--work-dir', default=None,
                   help='where data and logs go (default: a temp dir)')
    return p.parse_args()


class CheckFailed(RuntimeError):
    pass


def section(title: str) -> None:
    print(f'\n== {title}', flush=True)


def check_ops(device: str) -> None:
    """RoIAlign and NMS on ``device`` against the CPU."""
    from mmcv.ops import RoIAlign, get_compiling_cuda_version, nms
    print(f'mmcv ops compiled with CUDA: {get_compiling_cuda_version()}')
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 16, 32, 32, generator=g)
    xy = torch.rand(64, 2, generator=g) * 40
    wh = torch.rand(64, 2, generator=g) * 24 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    rois = torch.cat([torch.randint(0, 2, (64, 1), generator=g).float(),
                      boxes], 1)
    layer = RoIAlign((7, 7), spatial_scale=0.5, sampling_ratio=2,
                     aligned=True)
    ref = layer(feats, rois)
    got = layer(feats.to(device), rois.to(device)).cpu()
    err = (got - ref).abs().max().item()
    if err > 1e-4:
        raise CheckFailed(f'RoIAlign on {device} differs from the CPU by '
                          f'{err:.2e}')
    scores = torch.rand(64, generator=g)
    _, keep_ref = nms(boxes, scores, 0.5)
    _, keep = nms(boxes.to(device), scores.to(device), 0.5)
    if not torch.equal(keep.cpu(), keep_ref):
        raise CheckFailed(f'NMS on {device} keeps {keep.tolist()}, the CPU '
                          f'{keep_ref.tolist()}')
    print(f'RoIAlign max |{device} - cpu| = {err:.2e}; NMS keeps the same '
          f'{len(keep_ref)} of 64 boxes')


def check_benchmark(device: str, dry: bool) -> None:
    """HPM and MAE steps at ViT-B/16, batch 64, fp16 and bf16 autocast."""
    size = dict(arch='deit-tiny', img_size=32, batch=2, repeats=1,
                warmup=0) if dry else dict(batch=64, repeats=5, warmup=2)
    # low-precision matmuls are slow on most CPUs: the dry run runs fp32
    for name in ('fp32', ) if dry else ('fp16', 'bf16'):
        dtype = dict(fp16=torch.float16, bf16=torch.bfloat16).get(name)
        autocast = nullcontext if dtype is None else (
            lambda: torch.autocast(device, dtype=dtype))
        cost = measure_step_cost(device=device, autocast=autocast, **size)
        step, peak, flops = (cost['step_s'], cost['peak_bytes'],
                             cost['flops'])
        line = f'{name}: '
        for k in ('HPM', 'MAE'):
            line += f'{k} {size["batch"] / step[k]:7.1f} images/s'
            if k in peak:
                line += f' (peak {peak[k] / 2**30:.1f} GiB)'
            line += '  '
        print(line + f'HPM/MAE time ratio {step["HPM"] / step["MAE"]:.3f} '
              f'(FLOP ratio {flops["HPM"] / flops["MAE"]:.3f})', flush=True)


def _finite_losses(runner, what: str) -> None:
    losses = {k: v.current() for k, v in
              runner.message_hub.log_scalars.items() if 'loss' in k}
    if not losses:
        raise CheckFailed(f'{what}: no loss was logged')
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        raise CheckFailed(f'{what}: non-finite losses {bad}')
    print(f'{what}: {runner.iter} iterations, last losses ' + ', '.join(
        f'{k.split("/")[-1]}={v:.4f}' for k, v in sorted(losses.items())))


def _runner(cfg, work_dir: str, dry: bool):
    from mmengine.runner import Runner

    from hpm_mm.cli import setup_train_cfg
    setup_train_cfg(cfg, work_dir=work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].num_workers = 0 if dry else min(4, os.cpu_count())
            cfg[key].persistent_workers = False
    cfg.default_hooks.logger.interval = 10
    cfg.randomness = dict(seed=0)
    return Runner.from_cfg(cfg)


def check_pretrain(work: str, dry: bool) -> None:
    from mmengine.config import Config
    root = write_imagenet(osp.join(work, 'imagenet'), per_class=2 if dry
                          else 128, num_classes=2)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b.py'))
    batch, epochs = (2, 1) if dry else (64, 25)  # 100 iterations on a GPU
    cfg.train_dataloader.update(batch_size=batch)
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].end = 1
    cfg.param_scheduler[1].update(begin=1, T_max=max(epochs - 1, 1),
                                  end=max(epochs, 2))
    cfg.default_hooks.checkpoint.interval = epochs
    _train_only(cfg)
    if dry:
        size, patch = 32, 8
        cfg.model.backbone.update(arch=TINY_ARCH, img_size=size,
                                  patch_size=patch)
        cfg.model.neck.update(num_patches=(size // patch)**2,
                              patch_size=patch, embed_dim=32,
                              decoder_embed_dim=16, decoder_depth=1,
                              decoder_num_heads=2)
        cfg.model.head.patch_size = patch
        cfg.train_dataloader.dataset.pipeline[1].scale = size
    cfg.optim_wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
    runner = _runner(cfg, osp.join(work, 'pretrain'), dry)
    runner.train()
    _finite_losses(runner, 'pre-training (fp32 on the CPU)' if dry else
                   'pre-training (AMP fp16)')


def _train_only(cfg) -> None:
    """No validation/test loops (their evaluators would read real data)."""
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg',
                'test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg[key] = None


def check_downstream(work: str, dry: bool) -> None:
    from mmengine.config import Config

    def config(rel_path: str) -> Config:
        return Config.fromfile(osp.join(ROOT, rel_path))

    iters = 2 if dry else 20
    coco = write_coco(osp.join(work, 'coco'), n_train=4, n_val=2)
    cfg = config('configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco'
                 '.py')
    if dry:
        cfg = shrink_det(cfg, None, coco)
    else:
        cfg.train_dataloader.batch_size = 2
        cfg.train_dataloader.dataset.dataset.data_root = coco
    cfg.model.backbone.init_cfg = None  # random encoder: paths, not scores
    cfg.train_dataloader.dataset.times = iters // 2  # 4 images, batch 2
    cfg.train_cfg.update(max_epochs=1, val_interval=10**6)
    _train_only(cfg)
    runner = _runner(cfg, osp.join(work, 'det'), dry)
    runner.train()
    _finite_losses(runner, 'Mask R-CNN')

    ade = write_ade20k(osp.join(work, 'ade'), n_train=4, n_val=2)
    cfg = config('configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_'
                 'ade20k-512x512.py')
    if dry:
        cfg = shrink_seg(cfg, None, ade)
    else:
        cfg.train_dataloader.dataset.data_root = ade
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.update(max_iters=iters, val_interval=10**6)
    _train_only(cfg)
    cfg.default_hooks.checkpoint.interval = 10**6
    runner = _runner(cfg, osp.join(work, 'seg'), dry)
    runner.train()
    _finite_losses(runner, 'UperNet')


def main() -> None:
    args = parse_args()
    if args.dry_run:
        device = 'cpu'
        # a rehearsal on shared CI cores: one thread avoids oversubscription
        torch.set_num_threads(1)
    elif not torch.cuda.is_available():
        raise SystemExit('gpu_check: torch sees no GPU (use --dry-run for '
                         'the CPU rehearsal)')
    else:
        device = 'cuda'
        print(f'GPU: {torch.cuda.get_device_name()}, torch '
              f'{torch.__version__}, CUDA {torch.version.cuda}')
    work = args.work_dir or tempfile.mkdtemp(prefix='hpm_gpu_check_')
    start = time.time()
    steps = [('mmcv CUDA ops', lambda: check_ops(device)),
             ('benchmark ViT-B/16 batch 64',
              lambda: check_benchmark(device, args.dry_run)),
             ('pre-training', lambda: check_pretrain(work, args.dry_run)),
             ('Mask R-CNN and UperNet',
              lambda: check_downstream(work, args.dry_run))]
    for title, fn in steps:
        section(title)
        t = time.time()
        try:
            fn()
        except CheckFailed as e:
            raise SystemExit(f'gpu_check FAILED ({title}): {e}')
        print(f'({time.time() - t:.0f} s)')
    print(f'\ngpu_check: all checks passed in {time.time() - start:.0f} s '
          f'({work})')


if __name__ == '__main__':
    main()
