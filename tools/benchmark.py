"""Training-step cost of HPM against mmpretrain's MAE, in one process.

Times ``model.train_step(data, optim_wrapper)``, the step the Runner runs
(preprocessing, loss, loss parsing, backward, clipping, optimizer and, for
HPM, the teacher update), with each config's optimizer wrapper built by
mmengine (``AmpOptimWrapper`` with ``--amp``), alternating HPM and MAE
after warm-up. Reports images/s, CUDA peak memory, HPM's time split and the
masker's time. The split is read by ``torch.profiler`` from ranges that
forward hooks open and close on HPM's modules (:func:`phase_ranges`): the
model carries no profiling code and none of its methods is replaced.

Examples::

    python tools/benchmark.py                       # ViT-B/16, 224 px, batch 8
    python tools/benchmark.py --device cuda --amp --batch 64
    python tools/benchmark.py --device cuda --amp --amp-dtype bf16 --batch 64
    python tools/benchmark.py --arch deit-tiny --img-size 32 --repeats 1
"""
import argparse
import os.path as osp
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

import hpm_mm  # noqa: F401
from hpm_mm.models import HardPatchMasker

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PHASES = ('teacher', 'masker', 'encoder', 'decoder', 'head')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', default='b',
                   choices=sorted(VisionTransformer.arch_zoo),
                   help="mmpretrain ViT arch ('deit-tiny': a quick check)")
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--alpha', type=float, default=0.5,
                   help='hard fraction (0.5: the teacher always runs)')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--amp', action='store_true',
                   help="mmengine's AmpOptimWrapper (CUDA)")
    p.add_argument('--amp-dtype', choices=['fp16', 'bf16'], default='fp16')
    p.add_argument('--threads', type=int, help='torch CPU threads')
    p.add_argument('--teacher-dtype', choices=['bf16', 'fp16'],
                   help="HPM's teacher_dtype (teacher under autocast)")
    p.add_argument('--masker-batch', type=int, default=256,
                   help='batch size of the separate masker timing')
    p.add_argument('--compile', action='store_true',
                   help='time torch.compile(model.train_step), what '
                   "mmengine's compile=True runs (the split stays eager)")
    args = p.parse_args(argv)
    if args.amp and not args.device.startswith('cuda'):
        p.error("--amp needs --device cuda (mmengine's AmpOptimWrapper)")
    return args


def build(config: str, args) -> tuple:
    """A pre-training config's model at ``--arch``/``--img-size`` (HPM at
    ``--alpha``) and its optimizer wrapper, both built by mmengine."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', config))
    m = cfg.model
    m.backbone.update(arch=args.arch, img_size=args.img_size)
    width = VisionTransformer.arch_zoo[args.arch]['embed_dims']
    m.neck.update(num_patches=(args.img_size // 16)**2, embed_dim=width)
    if m.type == 'HPM':
        m.update(teacher_dtype=args.teacher_dtype, masker=dict(
            type='HardPatchMasker', fixed_alpha=args.alpha))
    model = MODELS.build(m)
    model.init_weights()
    if m.type == 'HPM':
        model.masker.set_alpha(args.alpha)
    wrapper = {k: v for k, v in cfg.optim_wrapper.items()
               if k not in ('loss_scale', 'dtype')}  # AMP: set here
    wrapper['type'] = 'OptimWrapper'
    if args.amp:
        bf16 = args.amp_dtype == 'bf16'
        wrapper.update(type='AmpOptimWrapper',
                       dtype='bfloat16' if bf16 else 'float16',
                       loss_scale=dict(enabled=False) if bf16 else 'dynamic')
    model = model.to(args.device).train()
    return model, build_optim_wrapper(model, wrapper)


@contextmanager
def phase_ranges(model: torch.nn.Module) -> Iterator[None]:
    """Profiler ranges over HPM's phases, opened and closed by hooks.

    ``teacher`` runs from the start of the teacher's encoder to the start of
    the masker (the teacher's encoder and loss-predictor branch);
    ``masker``, ``encoder`` (``model.backbone``) and ``decoder``
    (``model.neck``) span their module's forward; ``head`` runs from the end
    of the decoder to the end of the model's forward (target and losses).
    The hooks are removed on exit.
    """
    marks = [  # module, pre/post forward, range to close, range to open
        (model.teacher.module.backbone, 'pre', None, 'teacher'),
        (model.masker, 'pre', 'teacher', 'masker'),
        (model.masker, 'post', 'masker', None),
        (model.backbone, 'pre', None, 'encoder'),
        (model.backbone, 'post', 'encoder', None),
        (model.neck, 'pre', None, 'decoder'),
        (model.neck, 'post', 'decoder', 'head'),
        (model, 'post', 'head', None)]
    opened = {}

    def hook(close: Optional[str], open_: Optional[str]) -> Callable:
        def mark(*_) -> None:
            if close in opened:
                opened.pop(close).__exit__(None, None, None)
            if open_ is not None:
                opened[open_] = record_function(open_).__enter__()
        return mark

    handles = [(module.register_forward_pre_hook if when == 'pre' else
                module.register_forward_hook)(hook(close, open_))
               for module, when, close, open_ in marks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def phase_split(model: torch.nn.Module, step: Callable[[], None],
                device: str, repeats: int = 1) -> Dict[str, float]:
    """Seconds per ``step`` of HPM in each of :data:`PHASES` and ``rest``
    (preprocessing, backward, optimizer, teacher update): the ranges' CPU
    time, or on a GPU the CUDA time of their kernels.

    Raises:
        RuntimeError: A phase recorded no time (its module was not called),
            so the split would be silently wrong.
    """
    cuda = device.startswith('cuda')
    activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * cuda
    with phase_ranges(model), profile(activities=activities) as prof:
        for _ in range(repeats):
            with record_function('step'):
                step()
        sync(device)
    host = [e for e in prof.events() if e.device_type == DeviceType.CPU]
    totals = dict.fromkeys(PHASES + ('step', ), 0.0)
    for e in host:
        if e.name in totals:
            totals[e.name] += e.device_time_total if cuda else \
                e.cpu_time_total
    if cuda:  # every kernel of the step, backward's included
        totals['step'] = sum(e.self_device_time_total for e in host)
    missing = [p for p in PHASES if not totals[p]]
    if missing:
        raise RuntimeError('phase_split: no time recorded for '
                           + ', '.join(missing))
    totals['rest'] = totals.pop('step') - sum(totals[p] for p in PHASES)
    return {k: v / 1e6 / repeats for k, v in totals.items()}


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed(fn: Callable[[], None], device: str) -> float:
    """Seconds ``fn`` takes, device work included."""
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def time_masker(batch: int, device: str, repeats: int = 50) -> float:
    """Median milliseconds of one ViT-B/16 mask (L 196, M 147, n_hard 73)."""
    masker = HardPatchMasker(num_patches=196, num_masked=147).to(device)
    masker.set_alpha(0.5)
    scores = torch.randn(batch, 196, device=device)
    for _ in range(5):
        masker(scores, batch)
    return statistics.median(
        timed(lambda: masker(scores, batch), device)
        for _ in range(repeats)) * 1e3


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    MessageHub.get_instance('benchmark')
    MMLogger.get_instance('benchmark', log_level='WARNING')  # quiet init
    torch.manual_seed(0)
    data = dict(inputs=torch.randint(
        0, 256, (args.batch, 3, args.img_size, args.img_size),
        device=args.device).float(), data_samples=None)
    cuda = args.device.startswith('cuda')
    models, steps, first, times, peak = {}, {}, {}, {}, {}
    for name in ('HPM', 'MAE'):
        model, wrapper = models[name] = build(f'{name.lower()}_vit-b.py',
                                              args)
        fn = torch.compile(model.train_step) if args.compile else \
            model.train_step
        steps[name] = lambda fn=fn, w=wrapper: fn(data, w)
        first[name], times[name] = timed(steps[name], args.device), []
    for i in range(args.warmup + args.repeats):
        for name, step in steps.items():  # alternate HPM and MAE
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t = timed(step, args.device)
            if i >= args.warmup:
                times[name].append(t)
                if cuda:
                    peak[name] = max(peak.get(name, 0),
                                     torch.cuda.max_memory_allocated())
    print(f'device={args.device} threads={torch.get_num_threads()} '
          f'arch=ViT-{args.arch}/16 img={args.img_size} batch={args.batch} '
          f'alpha={args.alpha} amp={args.amp and args.amp_dtype} '
          f'compile={args.compile} repeats={args.repeats}')
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, t in med.items():
        print(f'{name}: step {t * 1e3:8.1f} ms  {args.batch / t:8.1f} '
              f'images/s  first step {first[name]:.1f} s' +
              (f'  CUDA peak {peak[name] / 2**20:.0f} MiB' if peak else ''))
    print(f"HPM/MAE time ratio {med['HPM'] / med['MAE']:.3f}")
    hpm, wrapper = models['HPM']
    split = phase_split(hpm, lambda: hpm.train_step(data, wrapper),
                        args.device, args.repeats)
    total = sum(split.values())
    print(f'HPM time split ({total * 1e3:.1f} ms per profiled eager step): '
          + '  '.join(f'{k} {v / total * 100:.1f}%'
                      for k, v in split.items()))
    print(f'masker at batch {args.masker_batch}: '
          f'{time_masker(args.masker_batch, args.device):.3f} ms')


if __name__ == '__main__':
    main()
