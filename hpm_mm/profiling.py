"""The cost of an HPM training step against mmpretrain's MAE.

Used by ``tools/benchmark.py`` (which prints it) and ``tools/gpu_check.py``.
A step is what the Runner runs: the model's real ``loss``, mmengine's loss
parsing, backward, clipping at 5.0, AdamW and, for HPM, the teacher's EMA
update. HPM's time split is read with
``torch.profiler`` from ``record_function`` ranges that
:func:`instrument_phases` opens around the model's parts from the outside:
the model itself carries no profiling code.
"""
import copy
import functools
import os.path as osp
import statistics
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

from .apis.model_index import MIM_ROOT

#: HPM's phases in one step, in order: the parts of :meth:`HPM.loss`
#: (teacher forward, mask, student encoder + decoder, target + losses),
#: then what the Runner does after it.
PHASES = ('hpm.teacher', 'hpm.masker', 'hpm.student', 'hpm.head',
          'step.backward+optimizer', 'step.ema')


def build_model(config: str,
                arch: str = 'b',
                img_size: int = 224,
                alpha: float = 0.5,
                device: str = 'cpu',
                teacher_dtype: Optional[str] = None) -> torch.nn.Module:
    """The model of a pre-training config at another ViT size.

    Args:
        config (str): File name in ``configs/pretrain`` (e.g.
            ``'hpm_vit-b.py'``, ``'mae_vit-b.py'``).
        arch (str): mmpretrain ViT arch ('b', 'l', 'deit-tiny', ...).
        img_size (int): Input size (patch 16).
        alpha (float): HPM's mined fraction, fixed for the measurement.
        device (str): Where the model goes.
        teacher_dtype (str, optional): HPM's ``teacher_dtype``.

    Returns:
        nn.Module: The initialised model in train mode.
    """
    cfg = Config.fromfile(osp.join(MIM_ROOT, 'configs', 'pretrain', config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(arch=arch, img_size=img_size)
    model_cfg.neck.update(
        num_patches=(img_size // 16)**2,
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
        self.cuda = str(device).startswith('cuda')

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable[[], None]) -> float:
        """Seconds ``fn`` takes, device work included."""
        self.sync()
        t = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t


def _ranged(name: str, fn: Callable) -> Callable:

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with record_function(name):
            return fn(*args, **kwargs)

    return wrapper


def instrument_phases(model: torch.nn.Module) -> torch.nn.Module:
    """Open a ``record_function`` range around each part of HPM's step.

    The ranges are instance attributes of this model only (its class and
    every other model are untouched): ``hpm.teacher`` around
    ``teacher_forward``, ``hpm.masker`` around the masker, ``hpm.student``
    around the student's encoder and decoder, ``hpm.head`` around the
    target and the losses.

    Args:
        model (nn.Module): An :class:`HPM` (modified in place).

    Returns:
        nn.Module: ``model``.
    """
    parts = [('hpm.teacher', model, 'teacher_forward'),
             ('hpm.masker', model.masker, 'forward'),
             ('hpm.student', model.backbone, 'forward'),
             ('hpm.student', model.neck, 'forward'),
             ('hpm.head', model.head, 'loss')]
    if model.with_target_generator:
        parts.append(('hpm.head', model.target_generator, 'forward'))
    for name, obj, attr in parts:
        setattr(obj, attr, _ranged(name, getattr(obj, attr)))
    return model


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer,
               x: torch.Tensor, autocast: Callable = nullcontext) -> None:
    """One training step as the Runner runs it (see the module doc)."""
    with autocast():
        loss, _ = model.parse_losses(model.loss(x, None))
    with record_function('step.backward+optimizer'):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    if hasattr(model, 'teacher'):
        with record_function('step.ema'):
            model.teacher.update(model.student_modules(), epoch=0)


def phase_split(step: Callable[[], None],
                device: str,
                phases: Sequence[str] = PHASES,
                repeats: int = 1) -> Dict[str, float]:
    """Seconds per step spent in each named ``record_function`` range.

    Runs ``step`` under ``torch.profiler`` and reads the ranges' CPU time
    (CUDA kernel time on a GPU, where the host only queues the work).

    Raises:
        RuntimeError: A phase was not recorded (e.g. a part was renamed and
            :func:`instrument_phases` missed it), so the split would be
            silently wrong.
    """
    cuda = str(device).startswith('cuda')
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
    """FLOPs of ``fn`` (``torch.utils.flop_counter``)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def time_masker(batch: int, device: str, repeats: int = 50) -> float:
    """Median milliseconds of one ViT-B/16 mask (L 196, M 147, n_hard 73)."""
    from .models import HardPatchMasker
    masker = HardPatchMasker(num_patches=196, num_masked=147).to(device)
    masker.set_alpha(0.5)
    scores = torch.randn(batch, 196, device=device)
    clock = Clock(device)
    for _ in range(5):
        masker(scores, batch)
    ts = [clock.time(lambda: masker(scores, batch)) for _ in range(repeats)]
    return statistics.median(ts) * 1e3


def measure_step_cost(arch: str = 'b',
                      img_size: int = 224,
                      batch: int = 8,
                      alpha: float = 0.5,
                      device: str = 'cpu',
                      autocast: Callable = nullcontext,
                      repeats: int = 5,
                      warmup: int = 2,
                      teacher_dtype: Optional[str] = None) -> Dict:
    """HPM's and MAE's training step, measured side by side.

    Steps alternate HPM and MAE after ``warmup`` steps of each.

    Returns:
        dict: ``step_s`` (median seconds per step), ``flops``,
        ``saved_bytes`` (activations kept for backward) and, on CUDA,
        ``peak_bytes``, each a dict over 'HPM' and 'MAE'; ``split`` (HPM's
        seconds per phase, :data:`PHASES`); ``teacher_saved_bytes`` (what
        the teacher's no-grad forward keeps: 0); and ``models``.
    """
    torch.manual_seed(0)
    models = {
        'HPM': instrument_phases(
            build_model('hpm_vit-b.py', arch, img_size, alpha, device,
                        teacher_dtype)),
        'MAE': build_model('mae_vit-b.py', arch, img_size, alpha, device),
    }
    opts = {
        k: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad],
                             lr=1e-4, betas=(0.9, 0.95))
        for k, m in models.items()
    }
    x = torch.randn(batch, 3, img_size, img_size, device=device)

    def run(name: str) -> None:
        train_step(models[name], opts[name], x, autocast)

    flops = {k: count_flops(lambda k=k: run(k)) for k in models}
    saved = {
        k: saved_activation_bytes(lambda k=k: run(k), models[k])
        for k in models
    }
    hpm = models['HPM']
    teacher_saved = saved_activation_bytes(
        lambda: hpm.teacher_forward(x, with_scores=True), hpm)
    for _ in range(warmup):
        for k in models:
            run(k)
    clock = Clock(device)
    cuda = str(device).startswith('cuda')
    totals: Dict[str, List[float]] = {k: [] for k in models}
    peak: Dict[str, int] = {}
    for _ in range(repeats):
        for k in models:  # alternate HPM and MAE
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            totals[k].append(clock.time(lambda k=k: run(k)))
            if cuda:
                peak[k] = max(peak.get(k, 0),
                              torch.cuda.max_memory_allocated())
    split = phase_split(lambda: run('HPM'), device, repeats=repeats)
    return dict(
        step_s={k: statistics.median(v) for k, v in totals.items()},
        flops=flops,
        saved_bytes=saved,
        peak_bytes=peak,
        split=split,
        teacher_saved_bytes=teacher_saved,
        models=models)
