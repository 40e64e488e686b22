"""Training-step cost of HPM against mmpretrain's MAE, in one process.

Times forward + backward + optimizer step (+ the teacher's EMA update for
HPM) after warm-up, alternating HPM and MAE, and reports the median, FLOPs
per step (``torch.utils.flop_counter``), the memory the autograd graph
keeps (saved activations), CUDA peak memory when on a GPU, and HPM's time
split across teacher, masker, student, head, backward/optimizer and EMA
(``torch.profiler`` ranges opened around the model's parts from outside,
see :mod:`hpm_mm.profiling`).

Examples::

    python tools/benchmark.py                       # ViT-B/16, 224 px, batch 8, CPU
    python tools/benchmark.py --device cuda --amp --batch 64
    python tools/benchmark.py --device cuda --amp --amp-dtype bf16 --batch 64
    python tools/benchmark.py --arch deit-tiny --img-size 64 --repeats 1
    python tools/benchmark.py --masker-batch 256    # masker timing only
    python tools/benchmark.py --compile             # eager vs torch.compile
    python tools/benchmark.py --compile --threads 1 --arch deit-tiny \
        --img-size 32 --batch 4
"""
import argparse
import statistics
import time
from contextlib import nullcontext

import torch
from mmengine.logging import MessageHub, MMLogger
from mmpretrain.models import VisionTransformer

import hpm_mm  # noqa: F401
from hpm_mm.models.maskers import top_ranked
from hpm_mm.profiling import (Clock, build_model, measure_step_cost,
                              time_masker)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='b',
                   choices=sorted(VisionTransformer.arch_zoo),
                   help="mmpretrain ViT arch: 'b', 'l', 'h'; 'deit-tiny' "
                   'for a quick check')
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--alpha', type=float, default=0.5,
                   help='hard fraction (0.5: the teacher always runs)')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--amp', action='store_true',
                   help='fp16 autocast (CUDA) / bf16 autocast (CPU)')
    p.add_argument('--amp-dtype', choices=['fp16', 'bf16'], default=None,
                   help='autocast dtype of --amp (default: fp16 on CUDA, '
                   'bf16 on the CPU)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: torch default)')
    p.add_argument('--teacher-dtype', choices=['bf16', 'fp16'], default=None,
                   help="HPM's teacher_dtype flag (teacher under autocast)")
    p.add_argument('--masker-batch', type=int, default=256,
                   help='batch size of the separate masker timing')
    p.add_argument('--compile', action='store_true',
                   help='only measure HPM and MAE steps with and without '
                   'torch.compile of model.loss (forward, losses and, '
                   'through AOTAutograd, backward)')
    return p.parse_args()


def hard_patch_change(model, x: torch.Tensor, alpha: float) -> float:
    """Fraction of the teacher's top-n_hard patches that differ from fp32."""
    n_hard = model.masker.num_hard(alpha)
    low = model.teacher_forward(x, with_scores=True)[0]
    dtype, model.teacher_dtype = model.teacher_dtype, None
    full = model.teacher_forward(x, with_scores=True)[0]
    model.teacher_dtype = dtype
    low, full = top_ranked(low, n_hard), top_ranked(full, n_hard)
    return 1 - (low & full).sum().item() / full.sum().item()


def amp_dtype(args) -> torch.dtype:
    if args.amp_dtype is not None:
        return dict(fp16=torch.float16, bf16=torch.bfloat16)[args.amp_dtype]
    return torch.float16 if args.device.startswith('cuda') else torch.bfloat16


def compile_benchmark(args, autocast) -> None:
    """Median step of HPM and MAE, eager against ``torch.compile``.

    The step is ``model.loss`` (compiled or not) + backward + AdamW (+ the
    teacher's EMA for HPM), the same for both modes; the first compiled call
    (tracing and Inductor code generation) is reported apart.
    """
    from torch._dynamo.utils import counters

    from hpm_mm.models.utils import float_drop_path_probs
    device = args.device
    x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                    device=device)
    clock = Clock(device)
    results = {}
    for name, config in (('HPM', 'hpm_vit-b.py'), ('MAE', 'mae_vit-b.py')):
        torch.manual_seed(0)
        # MAE gets HPM's compile-friendly DropPath floats too (fair timing)
        model = float_drop_path_probs(
            build_model(config, args.arch, args.img_size, args.alpha,
                        device))
        opt = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-4)
        for mode in ('eager', 'compiled'):
            torch._dynamo.reset()
            counters.clear()
            loss_fn = torch.compile(model.loss) if mode == 'compiled' \
                else model.loss

            def step():
                with autocast():
                    losses = loss_fn(x, None)
                    loss = sum(v for k, v in losses.items() if 'loss' in k)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if name == 'HPM':
                    model.teacher.update(model.student_modules(), epoch=0)

            clock.sync()
            t = time.perf_counter()
            step()
            clock.sync()
            first = time.perf_counter() - t
            for _ in range(args.warmup):
                step()
            ts = []
            for _ in range(args.repeats):
                clock.sync()
                t = time.perf_counter()
                step()
                clock.sync()
                ts.append(time.perf_counter() - t)
            results[name, mode] = (statistics.median(ts), first,
                                   counters['stats']['unique_graphs'])
    print(f'device={device} threads={torch.get_num_threads()} '
          f'arch=ViT-{args.arch} img={args.img_size} batch={args.batch} '
          f'alpha={args.alpha} amp={args.amp} repeats={args.repeats}')
    for name in ('HPM', 'MAE'):
        eager, compiled = results[name, 'eager'], results[name, 'compiled']
        print(f'{name}: eager {eager[0] * 1e3:8.1f} ms  compiled '
              f'{compiled[0] * 1e3:8.1f} ms  speed-up '
              f'{eager[0] / compiled[0]:.2f}x  (first compiled step '
              f'{compiled[1]:.1f} s, {compiled[2]} graph(s))')
    for mode in ('eager', 'compiled'):
        print(f'HPM/MAE time ratio {mode}: '
              f"{results['HPM', mode][0] / results['MAE', mode][0]:.3f}")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compile:
        if args.amp:
            dtype = amp_dtype(args)
            autocast = lambda: torch.autocast(  # noqa: E731
                args.device.split(':')[0], dtype=dtype)
        else:
            autocast = nullcontext
        MMLogger.get_instance('benchmark', log_level='WARNING')
        return compile_benchmark(args, autocast)
    MessageHub.get_instance('benchmark')
    MMLogger.get_instance('benchmark', log_level='WARNING')  # quiet init
    device = args.device
    torch.manual_seed(0)
    if args.amp:
        dtype = amp_dtype(args)
        autocast = lambda: torch.autocast(device.split(':')[0], dtype=dtype)  # noqa
    else:
        autocast = nullcontext
    cost = measure_step_cost(args.arch, args.img_size, args.batch,
                             args.alpha, device, autocast, args.repeats,
                             args.warmup, args.teacher_dtype)
    med, flops, saved = cost['step_s'], cost['flops'], cost['saved_bytes']
    peak, split = cost['peak_bytes'], cost['split']
    teacher_saved = cost['teacher_saved_bytes']
    print(f'device={device} threads={torch.get_num_threads()} '
          f'arch=ViT-{args.arch}/16 img={args.img_size} '
          f'batch={args.batch} alpha={args.alpha} amp={args.amp} '
          f'repeats={args.repeats}')
    for k in med:
        line = (f'{k}: step {med[k] * 1e3:8.1f} ms  '
                f'FLOPs {flops[k] / 1e12:7.3f} T  '
                f'saved activations {saved[k] / 2**20:8.1f} MiB')
        if peak:
            line += f'  CUDA peak {peak[k] / 2**20:8.1f} MiB'
        print(line)
    t_ratio = med['HPM'] / med['MAE']
    f_ratio = flops['HPM'] / flops['MAE']
    print(f'HPM/MAE time ratio {t_ratio:.3f}  FLOP ratio {f_ratio:.3f}  '
          f'(time/FLOP ratio {t_ratio / f_ratio:.3f})')
    print(f'teacher forward keeps {teacher_saved} bytes of activations')
    total = sum(split.values())
    print('HPM time split (profiler ranges; '
          f'{total * 1e3:.1f} ms per profiled step): ' + '  '.join(
              f'{k} {v / total * 100:.1f}%' for k, v in split.items()))
    if args.teacher_dtype:
        x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                        device=device)
        change = hard_patch_change(cost['models']['HPM'], x, args.alpha)
        print('hard patches that change with teacher_dtype='
              f'{args.teacher_dtype} vs fp32: {change:.1%}')
    print(f'masker at batch {args.masker_batch}: '
          f'{time_masker(args.masker_batch, device):.3f} ms')


if __name__ == '__main__':
    main()
