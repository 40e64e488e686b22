"""HPM under mixed precision, on the CPU.

mmengine's ``AmpOptimWrapper`` refuses to start without a GPU and builds a
CUDA ``GradScaler``; the ``cpu_amp`` fixture lets the real class run on the
CPU (CPU autocast is bf16, mmengine's choice) with the CPU ``GradScaler``,
so the steps below go through the real ``HPM.train_step`` / ``HPM.loss``,
the real optimizer wrapper and the model's own teacher update.
"""
import copy
import functools
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import Runner

from hpm_mm.models import HardPatchMasker
from hpm_mm.cli import setup_train_cfg

from .conftest import TINY_IMG, build_tiny_hpm, load_ckpt
from .test_runner import CONFIG, tiny_cfg

#: |bf16 loss - fp32 loss| / fp32 loss allowed after 3 identical steps
#: (bf16 keeps 8 mantissa bits, a relative rounding of 2**-8 = 0.4% per op;
#: measured: at most 0.26% on this tiny model, 3 steps).
BF16_REL_TOL = 0.02


@pytest.fixture
def cpu_amp(monkeypatch):
    """Let mmengine's AmpOptimWrapper run on the CPU."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    monkeypatch.setattr(amp_optimizer_wrapper, 'GradScaler',
                        functools.partial(torch.amp.GradScaler, 'cpu'))


def _data(seed=0, batch=4):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (batch, 3, TINY_IMG, TINY_IMG),
                         generator=g).float()
    return dict(inputs=imgs, data_samples=None)


def _optim(model, amp=None):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    if amp is None:
        return OptimWrapper(opt)
    return AmpOptimWrapper(optimizer=opt, **amp)


def _train(model, optim_wrapper, steps=3, on_step=None):
    """Real train steps (the teacher follows); returns the logged losses."""
    logs = []
    for i in range(steps):
        torch.manual_seed(100 + i)  # same masks' random part in each run
        log = model.train_step(_data(i), optim_wrapper)
        logs.append({k: float(v.detach()) for k, v in log.items()})
        if on_step is not None:
            on_step(i)
    return logs


def _masker_at_half():
    return dict(masker=dict(type='HardPatchMasker', fixed_alpha=0.5))


def test_bf16_steps_match_fp32(cpu_amp):
    ref = build_tiny_hpm(**_masker_at_half())
    amp = copy.deepcopy(ref)
    fp32_logs = _train(ref, _optim(ref))

    seen = dict(neck=set(), masks=[])

    def neck_dtype(module, args, out):
        seen['neck'].add(out[0].dtype)

    def student_mask(module, args):
        if args[1] is not None:  # the teacher encodes unmasked images
            seen['masks'].append(args[1])

    amp.neck.register_forward_hook(neck_dtype)
    amp.backbone.register_forward_pre_hook(student_mask)
    teacher_before = copy.deepcopy(amp.teacher.state_dict())
    wrapper = _optim(amp, dict(dtype='bfloat16', loss_scale=dict(
        enabled=False)))
    bf16_logs = _train(amp, wrapper)

    assert seen['neck'] == {torch.bfloat16}  # autocast really was on
    M = amp.backbone.num_masked
    assert len(seen['masks']) == 3
    for mask in seen['masks']:
        assert mask.dtype == torch.bool
        assert mask.sum(1).tolist() == [M] * mask.shape[0]
    for a, b in zip(fp32_logs, bf16_logs):
        for key in ('loss_rec', 'loss_pred'):
            assert torch.isfinite(torch.tensor(b[key]))
            assert abs(b[key] - a[key]) <= BF16_REL_TOL * abs(a[key]), \
                (key, a[key], b[key])
    # the teacher followed the three real optimizer steps
    assert int(amp.teacher.steps) == 3
    moved = [not torch.equal(v, amp.teacher.state_dict()[k])
             for k, v in teacher_before.items() if v.is_floating_point()]
    assert any(moved)


def test_losses_are_fp32_under_autocast(cpu_amp):
    model = build_tiny_hpm(**_masker_at_half())
    wrapper = _optim(model, dict(dtype='bfloat16',
                                 loss_scale=dict(enabled=False)))
    data = model.data_preprocessor(_data(), True)
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        scores = model.teacher_forward(data['inputs'], with_scores=True)[0]
        losses = model.loss(data['inputs'], data['data_samples'])
    assert scores.dtype == torch.float32
    for key in ('loss_rec', 'loss_pred', 'rank_acc'):
        assert losses[key].dtype == torch.float32, key


def test_mask_has_exactly_m_patches_with_tied_low_precision_scores():
    B, L, M = 64, 196, 147
    masker = HardPatchMasker(num_patches=L, num_masked=M, fixed_alpha=0.5)
    n_hard = masker.num_hard(0.5)
    g = torch.Generator().manual_seed(0)
    # bf16 rounding of nearby scores: only 3 distinct values per row
    raw = 1 + torch.randint(0, 3, (B, L), generator=g) * 1e-3
    scores = raw.to(torch.bfloat16).float()
    assert scores.unique().numel() <= 3
    mask = masker(scores, B)
    assert mask.sum(1).tolist() == [M] * B
    # every patch scored above the n_hard-th highest score is masked
    kth = scores.topk(n_hard, dim=1).values[:, -1:]
    assert mask[scores > kth].all()


def test_teacher_skips_a_step_the_loss_scaler_skips(cpu_amp):
    """fp16 dynamic loss scaling skips the optimizer step when a gradient
    is inf/NaN (and halves the scale); the teacher must not average then."""
    model = build_tiny_hpm(**_masker_at_half())
    wrapper = _optim(model, dict(dtype='bfloat16', loss_scale='dynamic'))
    poison = {'on': False}
    model.neck.decoder_pred.weight.register_hook(
        lambda g: g * float('inf') if poison['on'] else g)
    states = []

    def on_step(i):
        states.append(dict(
            teacher=copy.deepcopy(model.teacher.state_dict()),
            student=copy.deepcopy(model.backbone.state_dict()),
            scale=wrapper.loss_scaler.get_scale()))
        poison['on'] = i == 0  # poison the second step only

    _train(model, wrapper, steps=3, on_step=on_step)
    first, skipped, after = states
    assert skipped['scale'] == first['scale'] / 2  # the scaler did skip
    for k, v in first['student'].items():  # the student did not move
        assert torch.equal(v, skipped['student'][k]), k
    for k, v in first['teacher'].items():  # nor did the teacher
        assert torch.equal(v, skipped['teacher'][k]), k
    assert int(model.teacher.steps) == 2  # steps 1 and 3
    assert not torch.equal(
        skipped['teacher']['module.backbone.cls_token'],
        after['teacher']['module.backbone.cls_token'])


def test_setup_train_cfg_amp_modes(monkeypatch):
    base = Config.fromfile(CONFIG)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    bf16 = setup_train_cfg(copy.deepcopy(base), amp='bf16', work_dir='w')
    assert bf16.optim_wrapper.type == 'AmpOptimWrapper'
    assert bf16.optim_wrapper.dtype == 'bfloat16'
    assert bf16.optim_wrapper.loss_scale == dict(enabled=False)
    for amp in (True, 'fp16'):  # a bare --amp stays fp16
        fp16 = setup_train_cfg(copy.deepcopy(bf16), amp=amp, work_dir='w')
        assert fp16.optim_wrapper.type == 'AmpOptimWrapper'
        assert 'dtype' not in fp16.optim_wrapper
        assert fp16.optim_wrapper.loss_scale == 'dynamic'
    # a config that asks for bf16 itself gets no loss scaling either ...
    cfg = copy.deepcopy(base)
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    assert setup_train_cfg(cfg, work_dir='w').optim_wrapper.loss_scale == \
        dict(enabled=False)
    # ... unless it sets one
    cfg.optim_wrapper.loss_scale = 512.0
    assert setup_train_cfg(cfg, work_dir='w').optim_wrapper.loss_scale == 512
    with pytest.raises(ValueError, match="'fp16' or 'bf16'"):
        setup_train_cfg(copy.deepcopy(base), amp='fp8', work_dir='w')
    # without a GPU both precisions fall back to fp32
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cpu = setup_train_cfg(copy.deepcopy(base), amp='bf16', work_dir='w')
    assert cpu.optim_wrapper.type == 'OptimWrapper'
    assert 'dtype' not in cpu.optim_wrapper
    assert 'loss_scale' not in cpu.optim_wrapper


def test_checkpoint_written_under_amp_resumes(cpu_amp, tiny_imagenet,
                                              tmp_path):
    work = str(tmp_path / 'work')

    def amp_cfg(max_epochs):
        cfg = tiny_cfg(tiny_imagenet, work, max_epochs=max_epochs)
        cfg.optim_wrapper.update(
            type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
        return cfg

    runner = Runner.from_cfg(amp_cfg(2))
    runner.train()
    ckpt = load_ckpt(osp.join(work, 'epoch_1.pth'))
    assert ckpt['optimizer']['loss_scaler']['scale'] == 2.0**16
    # a scale the scaler would never reach by itself in these steps
    ckpt['optimizer']['loss_scaler']['scale'] = 1024.0
    resume_from = osp.join(work, 'edited.pth')
    torch.save(ckpt, resume_from)

    cfg2 = setup_train_cfg(amp_cfg(3), resume=resume_from)
    cfg2.optim_wrapper.update(
        type='AmpOptimWrapper', dtype='bfloat16', loss_scale='dynamic')
    runner2 = Runner.from_cfg(cfg2)
    resumed = {}
    orig = runner2.resume

    def spy(*args, **kwargs):
        out = orig(*args, **kwargs)
        resumed.update(
            iter=runner2.iter,
            teacher_steps=int(runner2.model.teacher.steps),
            scale=runner2.optim_wrapper.loss_scaler.get_scale())
        return out

    runner2.resume = spy
    runner2.train()
    assert isinstance(runner2.optim_wrapper, AmpOptimWrapper)
    assert resumed == dict(iter=2, teacher_steps=2, scale=1024.0)
    assert runner2.iter == 6
    assert int(runner2.model.teacher.steps) == 6
    for key, val in runner2.message_hub.log_scalars.items():
        if 'loss' in key:
            assert torch.isfinite(torch.tensor(val.current())), key
