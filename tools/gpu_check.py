"""One-shot check of hpm_mm's GPU paths on one GPU (all data generated).

1. mmcv's CUDA ops: RoIAlign and NMS on the GPU equal their CPU results.
2. tools/benchmark.py at ViT-B/16, batch 64, with fp16 and bf16 AMP: HPM's
   and MAE's images/s through the real ``train_step``, CUDA peak memory,
   HPM's time split.
3. 100 AMP (fp16) pre-training iterations of configs/pretrain/hpm_vit-b.py
   on generated images: every logged loss finite, the teacher moved.
4. 20 training iterations each of the Mask R-CNN and UperNet configs on
   tiny generated COCO / ADE20K datasets (AMP as in the configs).

Examples::

    python tools/gpu_check.py                  # on a GPU machine
    python tools/gpu_check.py --dry-run        # CPU, tiny sizes (make test)

Exits non-zero at the first failed check, with a one-line reason.
"""
import argparse
import math
import os.path as osp
import tempfile
import time

import benchmark  # tools/benchmark.py, next to this file
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import hpm_mm  # noqa: F401
from hpm_mm.cli import setup_train_cfg
from hpm_mm.testing import (IMG, deep_update, no_workers, shrink_det,
                            shrink_seg, tiny_model_overrides, write_ade20k,
                            write_coco, write_imagenet)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def fail(message: str) -> None:
    raise SystemExit(f'gpu_check FAILED: {message}')


def check_ops(device: str) -> None:
    """RoIAlign and NMS on ``device`` against the CPU."""
    from mmcv.ops import RoIAlign, get_compiling_cuda_version, nms
    print(f'mmcv ops compiled with CUDA: {get_compiling_cuda_version()}')
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 16, 32, 32, generator=g)
    xy = torch.rand(64, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + torch.rand(64, 2, generator=g) * 24 + 1], 1)
    rois = torch.cat(
        [torch.randint(0, 2, (64, 1), generator=g).float(), boxes], 1)
    layer = RoIAlign((7, 7), spatial_scale=0.5, sampling_ratio=2,
                     aligned=True)
    ref = layer(feats, rois)
    err = (layer(feats.to(device), rois.to(device)).cpu() - ref).abs().max()
    if err > 1e-4:
        fail(f'RoIAlign on {device} differs from the CPU by {err:.2e}')
    scores = torch.rand(64, generator=g)
    keep_ref = nms(boxes, scores, 0.5)[1]
    keep = nms(boxes.to(device), scores.to(device), 0.5)[1].cpu()
    if not torch.equal(keep, keep_ref):
        fail(f'NMS on {device} keeps {keep.tolist()}, the CPU '
             f'{keep_ref.tolist()}')
    print(f'RoIAlign max |{device} - cpu| = {err:.2e}; NMS keeps the same '
          f'{len(keep_ref)} of 64 boxes')


def check_benchmark(dry: bool) -> None:
    """tools/benchmark.py in fp16 and bf16 AMP (dry: fp32, tiny, CPU)."""
    if dry:
        return benchmark.main(
            ['--device', 'cpu', '--arch', 'deit-tiny', '--img-size', '32',
             '--batch', '2', '--repeats', '1', '--warmup', '0',
             '--masker-batch', '4'])
    for dtype in ('fp16', 'bf16'):
        print(f'-- {dtype}')
        benchmark.main(['--device', 'cuda', '--amp', '--amp-dtype', dtype,
                        '--batch', '64'])


class TeacherStart(Hook):
    """Keeps the teacher's weights as training starts."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        self.weights = {k: v.clone() for k, v in
                        runner.model.teacher.state_dict().items()
                        if v.is_floating_point()}


def train(cfg: Config, work_dir: str, what: str, amp: str = None,
          hook: Hook = None) -> Runner:
    """Train ``cfg`` (with ``hook``) without validation; every logged loss
    must be finite."""
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg',
                'test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg[key] = None  # their evaluators would read real data
    cfg.default_hooks.logger.interval = 10
    cfg.randomness = dict(seed=0)
    no_workers(cfg)
    runner = Runner.from_cfg(setup_train_cfg(cfg, work_dir, amp=amp))
    if hook is not None:
        runner.register_hook(hook)
    runner.train()
    losses = {k: v.current() for k, v in
              runner.message_hub.log_scalars.items() if 'loss' in k}
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if not losses or bad:
        fail(f'{what}: non-finite losses {bad}' if bad else
             f'{what}: no loss logged')
    print(f'{what}: {runner.iter} iterations, last losses ' + ', '.join(
        f'{k.split("/")[-1]}={v:.4f}' for k, v in sorted(losses.items())))
    return runner


def check_pretrain(work: str, dry: bool) -> None:
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-b.py'))
    batch, epochs = (2, 1) if dry else (64, 25)  # 100 iterations on a GPU
    cfg.train_dataloader.update(batch_size=batch)
    cfg.train_dataloader.dataset.data_root = write_imagenet(
        osp.join(work, 'imagenet'), per_class=2 if dry else 128)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].end = 1
    cfg.param_scheduler[1].update(begin=1, T_max=max(epochs - 1, 1),
                                  end=max(epochs, 2))
    cfg.default_hooks.checkpoint.interval = epochs
    if dry:
        deep_update(cfg.model, tiny_model_overrides())
        cfg.train_dataloader.dataset.pipeline[1].scale = IMG
    start = TeacherStart()
    runner = train(cfg, osp.join(work, 'pretrain'), 'pre-training (fp32 on '
                   'the CPU)' if dry else 'pre-training (AMP fp16)', 'fp16',
                   start)
    now = runner.model.teacher.state_dict()
    moved = sum(not torch.equal(v, now[k])
                for k, v in start.weights.items())
    if not moved:
        fail('pre-training: the teacher did not move')
    print(f'the teacher moved: {moved} of {len(start.weights)} tensors '
          'changed')


def check_downstream(work: str, dry: bool) -> None:
    iters = 2 if dry else 20
    coco = write_coco(osp.join(work, 'coco'), n_train=4, n_val=2)
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py'))
    if dry:
        cfg = shrink_det(cfg, None, coco)
    cfg.train_dataloader.update(batch_size=2)
    cfg.train_dataloader.dataset.dataset.data_root = coco
    cfg.train_dataloader.dataset.times = iters // 2  # 4 images, batch 2
    cfg.train_cfg.update(max_epochs=1, val_interval=10**6)
    cfg.model.backbone.init_cfg = None  # random encoder: paths, not scores
    train(cfg, osp.join(work, 'det'), 'Mask R-CNN')

    ade = write_ade20k(osp.join(work, 'ade'), n_train=4, n_val=2)
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_'
        'ade20k-512x512.py'))
    if dry:
        cfg = shrink_seg(cfg, None, ade)
    cfg.train_dataloader.dataset.data_root = ade
    cfg.train_cfg.update(max_iters=iters, val_interval=10**6)
    cfg.default_hooks.checkpoint.interval = 10**6
    cfg.model.backbone.init_cfg = None
    train(cfg, osp.join(work, 'seg'), 'UperNet')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dry-run', action='store_true',
                   help='CPU, tiny models and few iterations: checks that '
                   'every step runs (no numbers worth reading)')
    p.add_argument('--work-dir', default=None,
                   help='where data and logs go (default: a temp dir)')
    args = p.parse_args()
    dry, device = args.dry_run, 'cpu' if args.dry_run else 'cuda'
    if dry:  # a rehearsal on shared CI cores: one thread
        torch.set_num_threads(1)
    elif not torch.cuda.is_available():
        raise SystemExit('gpu_check: torch sees no GPU (use --dry-run for '
                         'the CPU rehearsal)')
    else:
        print(f'GPU: {torch.cuda.get_device_name()}, torch '
              f'{torch.__version__}, CUDA {torch.version.cuda}')
    work = args.work_dir or tempfile.mkdtemp(prefix='hpm_gpu_check_')
    start = time.time()
    for title, fn in [('mmcv CUDA ops', lambda: check_ops(device)),
                      ('benchmark ViT-B/16 batch 64',
                       lambda: check_benchmark(dry)),
                      ('pre-training', lambda: check_pretrain(work, dry)),
                      ('Mask R-CNN and UperNet',
                       lambda: check_downstream(work, dry))]:
        print(f'\n== {title}', flush=True)
        t = time.time()
        fn()
        print(f'({time.time() - t:.0f} s)', flush=True)
    print(f'\ngpu_check: all checks passed in {time.time() - start:.0f} s '
          f'({work})')


if __name__ == '__main__':
    main()
