"""The ImageNet fine-tuning and linear-probe recipes against the authors'.

The lr of each layer group is traced over the whole schedule of the real
configs (optimizer built by mmpretrain's layer-decay constructor, schedulers
by mmengine's registry as the Runner builds them, stepped per iteration)
and compared with the authors' ``util/lr_sched.py`` and
``util/lr_decay.py``, restated below. The configs train under fp16 AMP as
the authors' ``engine_finetune.py`` does, with fp32 one option away.
"""
import inspect
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

from .conftest import ROOT

#: Iterations per epoch of the traced schedules (ImageNet has 3,336 at
#: 8 x 48); the schedule's shape in epochs is the configs' own.
ITERS = 3

#: The authors' settings (scripts/*.sh over main_*.py defaults): total
#: batch, base lr, min_lr, warm-up epochs, epochs, layer decay, blocks.
AUTHORS = {
    # finetune_base.sh: 8 x 48, --blr 5e-4 --layer_decay 0.8, --epochs 100
    # --warmup_epochs 5; main_finetune.py: --min_lr 1e-6
    'hpm_vit-base-p16_8xb48-coslr-100e_in1k.py':
    dict(batch=384, blr=5e-4, min_lr=1e-6, warmup=5, epochs=100,
         layer_decay=0.8, blocks=12),
    # finetune_large.sh: 8 x 64, --epochs 50, otherwise finetune_base.sh
    'hpm_vit-large-p16_8xb64-coslr-50e_in1k.py':
    dict(batch=512, blr=5e-4, min_lr=1e-6, warmup=5, epochs=50,
         layer_decay=0.8, blocks=24),
    # linprob.sh: 4 x 512, --blr 1e-3 --epochs 100; main_linprob.py:
    # --min_lr 0, --warmup_epochs 10, one group (the head), no layer decay
    'hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py':
    dict(batch=2048, blr=1e-3, min_lr=0.0, warmup=10, epochs=100,
         layer_decay=None, blocks=12),
}
FP32 = {'optim_wrapper.type': 'OptimWrapper'}


def authors_lr(epoch: float, lr: float, min_lr: float, warmup: int,
               epochs: int, lr_scale: float) -> float:
    """The lr the authors' ``adjust_learning_rate`` gives a group with
    ``lr_scale`` at fractional ``epoch`` (iteration / iterations per
    epoch): linear from 0 over the warm-up, then half-cycle cosine from
    ``lr`` to ``min_lr``, both times ``lr_scale``."""
    if epoch < warmup:
        value = lr * epoch / warmup
    else:
        progress = (epoch - warmup) / (epochs - warmup)
        value = min_lr + (lr - min_lr) * 0.5 * (1. + math.cos(
            math.pi * progress))
    return value * lr_scale


def authors_lr_scale(name: str, blocks: int, layer_decay: float) -> float:
    """``param_groups_lrd``'s ``lr_scale`` for an mmpretrain parameter
    name: the patch embedding, cls token and position embedding are layer
    0, block i is layer i + 1, the rest (norm after pooling, head) layer
    blocks + 1; the scale is ``layer_decay ** (blocks + 1 - layer)``."""
    if name.startswith(('backbone.patch_embed', 'backbone.cls_token',
                        'backbone.pos_embed')):
        layer = 0
    elif name.startswith('backbone.layers.'):
        layer = int(name.split('.')[2]) + 1
    else:
        layer = blocks + 1
    return layer_decay**(blocks + 1 - layer)


def _config(name: str, options: Dict[str, str] = FP32) -> Config:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cls', name))
    cfg.merge_from_dict(options)
    return cfg


def meta_model(cfg: Config) -> torch.nn.Module:
    """The config's model at full size, without memory or weights."""
    with torch.device('meta'):
        return MODELS.build(cfg.model)


def trace(cfg: Config,
          model: torch.nn.Module,
          watched: List[str],
          scope: str = 'mmpretrain',
          epoch_length: int = ITERS,
          steps: Optional[int] = None) -> Tuple[dict, OptimWrapper]:
    """Build the config's optimizer wrapper and schedulers for ``model`` in
    ``scope``, as the Runner does, and step them over ``steps`` iterations
    (default: the whole schedule) of epochs of ``epoch_length``.

    Returns:
        tuple: For each watched parameter name, the lr in use at every
        iteration; and the optimizer wrapper.
    """
    with DefaultScope.overwrite_default_scope(scope):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        schedulers = [
            PARAM_SCHEDULERS.build(
                s, default_args=dict(
                    optimizer=optim, epoch_length=epoch_length))
            for s in cfg.param_scheduler
        ]
    params = dict(model.named_parameters())
    group_of = {}
    for name in watched:
        (group, ) = [
            g for g in optim.param_groups
            if any(p is params[name] for p in g['params'])
        ]
        group_of[name] = group
    lrs = {name: [] for name in watched}
    if steps is None:
        steps = cfg.train_cfg.max_epochs * epoch_length
    for _ in range(steps):
        for name, group in group_of.items():
            lrs[name].append(group['lr'])
        for scheduler in schedulers:  # mmengine's ParamSchedulerHook
            scheduler.step()
    return lrs, optim


# the optimizer never steps here: only the schedulers do
@pytest.mark.filterwarnings('ignore:Detected call of:UserWarning')
@pytest.mark.parametrize('name', sorted(AUTHORS))
def test_lr_of_each_layer_group_is_the_authors(name):
    """Lowest and highest layer group: the authors' lr at the start, the
    end of warm-up, the middle and the end of the schedule, and at every
    iteration after the warm-up (the end is near the floor, min_lr x
    lr_scale: 5.5e-8 for ViT-B's patch embedding)."""
    ref = AUTHORS[name]
    cfg = _config(name)
    lr = ref['blr'] * ref['batch'] / 256
    warmup, epochs = ref['warmup'], ref['epochs']
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.train_cfg.max_epochs == epochs
    # iterations per epoch as the authors' DataLoader(drop_last=True)
    assert cfg.train_dataloader.drop_last is True
    model = meta_model(cfg)
    lowest = 'backbone.patch_embed.projection.weight'
    highest = [n for n, _ in model.named_parameters()
               if n.startswith('head.')][-1]
    if ref['layer_decay'] is None:  # the probe trains its head only
        watched, scale = [highest], {highest: 1.0}
    else:
        watched = [lowest, highest]
        scale = {
            n: authors_lr_scale(n, ref['blocks'], ref['layer_decay'])
            for n in watched
        }
        assert scale[lowest] == pytest.approx(0.8**(ref['blocks'] + 1))
    lrs, _ = trace(cfg, model, watched)
    n_warm, n_all = warmup * ITERS, epochs * ITERS
    for param in watched:
        ours = lrs[param]

        def theirs(it):
            return authors_lr(it / ITERS, lr, ref['min_lr'], warmup, epochs,
                              scale[param])

        peak = lr * scale[param]
        assert ours[0] == pytest.approx(theirs(0), abs=peak * 1e-8)
        # The warm-up: mmengine's LinearLR reaches the peak at its last
        # iteration, the authors' one iteration later; ours is ahead by at
        # most peak / (warm-up iterations) (6e-5 of it at 8 x 48).
        for it in range(1, n_warm):
            assert 0 <= ours[it] - theirs(it) <= peak / n_warm * (1 + 1e-9)
        for it in range(n_warm, n_all):
            assert ours[it] == pytest.approx(theirs(it), rel=1e-9), it
        points = dict(end_of_warmup=n_warm, middle=(n_warm + n_all) // 2,
                      end=n_all - 1)
        for point, it in points.items():
            assert ours[it] == pytest.approx(theirs(it), rel=1e-9), point
        assert ours[n_warm] == pytest.approx(peak, rel=1e-9)


@pytest.mark.parametrize('name', sorted(AUTHORS))
def test_fp16_amp_with_fp32_one_option_away(name):
    """fp16 autocast with a dynamic loss scale, as the authors'
    ``torch.cuda.amp.autocast()`` + ``GradScaler()``; on a CPU
    ``--cfg-options optim_wrapper.type=OptimWrapper`` builds the same
    optimizer in fp32 (AmpOptimWrapper needs a GPU)."""
    cfg = _config(name, {})
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper'
    assert ow.get('dtype') is None  # fp16
    assert ow.get('loss_scale', 'dynamic') == 'dynamic'
    default = inspect.signature(AmpOptimWrapper).parameters['loss_scale']
    assert default.default == 'dynamic'
    fp32_cfg = _config(name)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        fp32 = build_optim_wrapper(meta_model(fp32_cfg),
                                   fp32_cfg.optim_wrapper)
    assert type(fp32) is OptimWrapper
    assert max(g['lr'] for g in fp32.param_groups) == pytest.approx(
        AUTHORS[name]['blr'] * AUTHORS[name]['batch'] / 256)
