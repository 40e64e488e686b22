"""Training-step cost of HPM against mmpretrain's MAE, in one process.

Times forward + backward + optimizer step (+ the teacher's EMA update for
HPM) after warm-up, alternating HPM and MAE, and reports the median, FLOPs
per step (``torch.utils.flop_counter``), the memory the autograd graph
keeps (saved activations), CUDA peak memory when on a GPU, and HPM's time
split across teacher, masker, student, head, backward/optimizer and EMA.

Both models run their real ``loss``; the split is read with
``torch.profiler`` from the ``record_function`` ranges that ``HPM.loss``
itself opens (``LOSS_PHASES``), so it cannot drift from the model.

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
import copy
import os.path as osp
import statistics
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Sequence

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmpretrain.registry import MODELS
from mmpretrain.models import VisionTransformer
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

import hpm_mm  # noqa: F401
from hpm_mm.models.algorithms.hpm import LOSS_PHASES

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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


def build(config: str, arch: str, size: int, alpha: float, device: str,
          teacher_dtype: str = None) -> torch.nn.Module:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(arch=arch, img_size=size)
    model_cfg.neck.update(
        num_patches=(size // 16)**2,
        embed_dim=VisionTransformer.arch_zoo[arch]['embed_dims'])
    if model_cfg.type == 'HPM':
        model_cfg.masker = dict(type='HardPatchMasker', fixed_alpha=alpha)
        model_cfg.teacher_dtype = teacher_dtype
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.to(device).train()


class Clock:
    """Wall-clock timing; synchronises CUDA only here, in the benchmark."""

    def __init__(self, device: str):
        self.cuda = device.startswith('cuda')

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable[[], None]) -> float:
        """Seconds ``fn`` takes, device work included."""
        self.sync()
        t = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t


#: The benchmark's own ranges around what the Runner does after the loss.
STEP_PHASES = ('step.backward+optimizer', 'step.ema')


def train_step(model, opt, x, autocast) -> None:
    """One training step as the Runner runs it: the model's real ``loss``
    (its phases are ``record_function`` ranges, see
    :data:`hpm_mm.models.algorithms.hpm.LOSS_PHASES`), mmengine's loss
    parsing, backward, clipping, AdamW and, for HPM, the teacher update of
    :class:`HPMTeacherHook`."""
    with autocast():
        loss, _ = model.parse_losses(model.loss(x, None))
    with record_function(STEP_PHASES[0]):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    if hasattr(model, 'teacher'):
        with record_function(STEP_PHASES[1]):
            model.teacher.update(model.student_modules(), epoch=0)


def phase_split(step: Callable[[], None], device: str,
                phases: Sequence[str] = LOSS_PHASES + STEP_PHASES,
                repeats: int = 1) -> Dict[str, float]:
    """Seconds per step spent in each named ``record_function`` range.

    Runs ``step`` under ``torch.profiler`` and reads the ranges' CPU time
    (CUDA kernel time on a GPU, where the host only queues the work).

    Raises:
        RuntimeError: A phase was not recorded (e.g. a range was removed
            from ``HPM.loss``), so the split would be silently wrong.
    """
    cuda = device.startswith('cuda')
    activities = [ProfilerActivity.CPU]
    if cuda:
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            step()
        if cuda:
            torch.cuda.synchronize()
    totals: Dict[str, float] = {}
    for event in prof.events():
        # the host-side range; on a GPU its kernels' time, children included
        if event.name in phases and event.device_type == DeviceType.CPU:
            t = event.device_time_total if cuda else event.cpu_time_total
            totals[event.name] = totals.get(event.name, 0.0) + t
    missing = [p for p in phases if p not in totals]
    if missing:
        raise RuntimeError('phases not recorded by the profiler: '
                           + ', '.join(missing))
    return {p: totals[p] / 1e6 / repeats for p in phases}


def saved_activation_bytes(fn: Callable[[], None],
                           model: torch.nn.Module) -> int:
    """Bytes of non-parameter tensors autograd saves for backward in fn."""
    total = [0]
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    weights |= {b.untyped_storage().data_ptr() for b in model.buffers()}

    def pack(t):
        if t.untyped_storage().data_ptr() not in weights:
            total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total[0]


def count_flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def time_masker(batch: int, device: str, repeats: int = 50) -> float:
    from hpm_mm.models import HardPatchMasker
    masker = HardPatchMasker(fixed_alpha=0.5)
    scores = torch.randn(batch, 196, device=device)
    clock = Clock(device)
    for _ in range(5):
        masker(scores, 147, 73, batch, 196)
    ts = []
    for _ in range(repeats):
        clock.sync()
        t = time.perf_counter()
        masker(scores, 147, 73, batch, 196)
        clock.sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def hard_patch_change(model, x: torch.Tensor, alpha: float) -> float:
    """Fraction of the teacher's top-n_hard patches that differ from fp32."""
    n_hard = model.masker.num_hard(model.backbone.num_masked, alpha)
    low = model.teacher_scores(x)
    dtype, model.teacher_dtype = model.teacher_dtype, None
    full = model.teacher_scores(x)
    model.teacher_dtype = dtype
    top = lambda s: torch.zeros_like(s, dtype=torch.bool).scatter_(  # noqa
        1, torch.topk(s, n_hard, dim=1).indices, True)
    return 1 - (top(low) & top(full)).sum().item() / top(full).sum().item()


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
            build(config, args.arch, args.img_size, args.alpha, device))
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
    models = {
        'HPM': build('hpm_vit-b.py', args.arch, args.img_size, args.alpha,
                     device, args.teacher_dtype),
        'MAE': build('mae_vit-b.py', args.arch, args.img_size, args.alpha,
                     device),
    }
    opts = {
        k: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad],
                             lr=1e-4, betas=(0.9, 0.95))
        for k, m in models.items()
    }
    x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                    device=device)

    def run(name: str) -> None:
        train_step(models[name], opts[name], x, autocast)

    flops = {k: count_flops(lambda k=k: run(k)) for k in models}
    saved = {
        k: saved_activation_bytes(lambda k=k: run(k), models[k])
        for k in models
    }
    # teacher_scores runs under no_grad by itself: nothing may be saved
    teacher_saved = saved_activation_bytes(
        lambda: models['HPM'].teacher_scores(x), models['HPM'])
    for _ in range(args.warmup):
        for k in models:
            run(k)
    clock = Clock(device)
    totals: Dict[str, List[float]] = {k: [] for k in models}
    peak = {}
    for _ in range(args.repeats):
        for k in models:  # alternate HPM and MAE
            if device.startswith('cuda'):
                torch.cuda.reset_peak_memory_stats()
            totals[k].append(clock.time(lambda k=k: run(k)))
            if device.startswith('cuda'):
                peak[k] = max(peak.get(k, 0),
                              torch.cuda.max_memory_allocated())
    # the split comes from HPM.loss's own record_function ranges
    split = phase_split(lambda: run('HPM'), device, repeats=args.repeats)
    med = {k: statistics.median(v) for k, v in totals.items()}
    print(f'device={device} threads={torch.get_num_threads()} '
          f'arch=ViT-{args.arch}/16 img={args.img_size} '
          f'batch={args.batch} alpha={args.alpha} amp={args.amp} '
          f'repeats={args.repeats}')
    for k in models:
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
        print('hard patches that change with teacher_dtype='
              f'{args.teacher_dtype} vs fp32: '
              f'{hard_patch_change(models["HPM"], x, args.alpha):.1%}')
    print(f'masker at batch {args.masker_batch}: '
          f'{time_masker(args.masker_batch, device):.3f} ms')


if __name__ == '__main__':
    main()
