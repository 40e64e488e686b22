"""The video configs (VideoMAE, the exploratory VideoHPM): each loads,
builds its model (shrunk to the tiny ViT) and its data pipelines on a real
video, and its recipe is the reference VideoMAE's: its scripts over the
defaults of run_mae_pretraining.py / run_class_finetuning.py, restated
below, and the lr of each traced layer group over the whole schedule
against the reference's ``utils.cosine_scheduler``."""
import math
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from hpm_mm.cli import load_config
from hpm_mm.testing.video import write_kinetics

from ..test_recipes import trace
from .tiny_video import (ACTION_CONFIGS, FRAMES, IMG, PRETRAIN_CONFIGS, name,
                         tiny_action_model, tiny_pretrain_model)

#: Iterations per epoch of the traced schedules.
ITERS = 2

#: The reference's pre-training: scripts/{kinetics,ssv2}/videomae_vit_base_
#: patch16_224_tubemasking_ratio_0.9_epoch_800/pretrain.sh (64 GPUs x
#: --batch_size 32, --sampling_rate, --epochs 801, fine-tuned from
#: checkpoint-799) over run_mae_pretraining.py (--lr 1.5e-4, --min_lr 1e-5,
#: both x batch / 256, warm-up from 0, --weight_decay 0.05 constant).
PRETRAIN = dict(batch=2048, blr=1.5e-4, min_lr=1e-5, warmup=40,
                schedule=801, epochs=800, betas=(0.9, 0.95), wd=0.05,
                frames=16, mask_ratio=0.9, decoder=(4, 384, 6))
INTERVAL = {'k400-16x4': 4, 'ssv2-16x2': 2}
#: The reference's fine-tuning: scripts/.../epoch_800/finetune.sh (64 GPUs x
#: --batch_size 8, --lr, --epochs, --test_num_segment / --test_num_crop)
#: over run_class_finetuning.py (--min_lr 1e-6 and both lrs x batch / 256,
#: --warmup_epochs 5 from 0, --layer_decay 0.75, --drop_path 0.1,
#: --smoothing 0.1, --mixup 0.8 --cutmix 1.0, betas 0.9 0.999).
FINETUNE = dict(batch=512, min_lr=1e-6, warmup=5, layer_decay=0.75,
                drop_path=0.1, smoothing=0.1, mixup=0.8, cutmix=1.0,
                betas=(0.9, 0.999), wd=0.05, blocks=12)
FINETUNE_RUNS = {
    'kinetics400': dict(blr=1e-3, epochs=100, views=(5, 3), classes=400,
                        flip=True),
    'sthv2': dict(blr=5e-4, epochs=50, views=(2, 3), classes=174,
                  flip=False),
}


def reference_schedule(lr: float, min_lr: float, epochs: int, warmup: int,
                       iters: int) -> np.ndarray:
    """The reference's ``utils.cosine_scheduler`` (start_warmup_value 0):
    ``linspace(0, lr, warm-up iterations)``, then half-cycle cosine from lr
    to min_lr over the remaining iterations."""
    n_warm, n_all = warmup * iters, epochs * iters
    rest = np.arange(n_all - n_warm)
    return np.concatenate([
        np.linspace(0, lr, n_warm),
        min_lr + 0.5 * (lr - min_lr) *
        (1 + np.cos(math.pi * rest / len(rest)))])


def _build(cfg: Config, scope: str) -> torch.nn.Module:
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def kinetics(tmp_path_factory) -> str:
    """Tiny Kinetics-400 (2 classes x 2 videos of 24 frames, 40 px)."""
    return write_kinetics(str(tmp_path_factory.mktemp('k400')))


def _first_clip(cfg: Config, loader: str, scope: str, root: str,
                upto: int = None) -> dict:
    """The config's ``loader`` pipeline (its first ``upto`` transforms) on
    the first training video."""
    with open(osp.join(root, 'kinetics400_train_list_videos.txt')) as f:
        video, label = f.readline().split()
    with DefaultScope.overwrite_default_scope(scope):
        pipeline = Compose(cfg[loader].dataset.pipeline[:upto])
    return pipeline(dict(filename=osp.join(root, 'videos_train', video),
                         label=int(label), start_index=0, modality='RGB'))


@pytest.mark.parametrize('path', PRETRAIN_CONFIGS, ids=name)
def test_pretrain_config_builds_steps_and_loads_clips(path, kinetics):
    cfg = load_config(path)
    assert cfg.default_scope == 'mmpretrain'
    assert {'hpm_mm', 'hpm_mm.video'} <= set(cfg.custom_imports.imports)
    hpm = osp.basename(path).startswith('hpm_')
    assert cfg.model.type == ('VideoHPM' if hpm else 'VideoMAE')
    assert cfg.model.masker.type == ('HardTubeMasker' if hpm else
                                     'TubeMasker')
    if hpm:  # labelled as our design
        assert open(path).read().startswith('# EXPLORATORY: ')
    # the image configs' runtime: fail fast, exact resume, preemption
    for hook in ('NonFiniteLossHook', 'CheckpointKeysHook', 'RNGStateHook',
                 'CheckpointSafeGlobalsHook', 'PreemptionHook'):
        assert dict(type=hook) in cfg.custom_hooks, hook
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend='atomic_local')
    # the real clip: 16 frames of 224 px at the reference's sampling rate
    data = _first_clip(cfg, 'train_dataloader', 'mmpretrain', kinetics)
    assert tuple(data['inputs'].shape) == (1, 3, 16, 224, 224)
    # 16 frames `step` apart; the 24-frame video is shorter than the clip:
    # from its start, the last frame sampled in it repeated (as the
    # reference's loader does)
    step = INTERVAL[name(path).rsplit('_', 1)[1]]
    inds = _first_clip(cfg, 'train_dataloader', 'mmpretrain', kinetics,
                       upto=2)['frame_inds']
    want = np.arange(16) * step
    assert inds.tolist() == np.minimum(want, want[want < 24].max()).tolist()

    cfg.merge_from_dict(dict(model=tiny_pretrain_model()))
    model = _build(cfg, 'mmpretrain')
    if hpm:  # outside a Runner: a hard share by hand
        model.masker.set_alpha(0.5)
    torch.manual_seed(0)
    losses = model.loss(torch.randn(2, 3, FRAMES, IMG, IMG), None)
    main = losses['loss_rec'] if hpm else losses['loss']
    assert torch.isfinite(main) and main > 0


# the optimizer never steps here: only the schedulers do
@pytest.mark.filterwarnings('ignore:Detected call of:UserWarning')
@pytest.mark.parametrize('path', PRETRAIN_CONFIGS, ids=name)
def test_pretrain_recipe_is_the_reference(path):
    """Numbers, the lr at every iteration of the 800 epochs, and which
    parameters are decayed (the reference: all but 1-D ones, biases and
    its no_weight_decay() names)."""
    ref, cfg = PRETRAIN, Config.fromfile(path)
    loader = cfg.train_dataloader
    assert 64 * loader.batch_size == ref['batch']
    assert loader.drop_last is True
    sample = loader.dataset.pipeline[1]
    assert (sample.type, sample.clip_len, sample.frame_interval,
            sample.num_clips) == ('mmaction.SampleFrames', ref['frames'],
                                  INTERVAL[name(path).rsplit('_', 1)[1]], 1)
    assert [t.type for t in loader.dataset.pipeline].count(
        'mmaction.Flip') == 0  # the reference does not flip
    crop = loader.dataset.pipeline[3]
    assert (crop.type, tuple(crop.scales), crop.num_fixed_crops,
            crop.random_crop) == ('mmaction.MultiScaleCrop',
                                  (1, .875, .75, .66), 13, False)
    bb, neck = cfg.model.backbone, cfg.model.neck
    assert (bb.depth, bb.embed_dims, bb.num_heads, bb.patch_size,
            bb.tubelet_size, bb.num_frames, bb.mask_ratio) == (
                12, 768, 12, 16, 2, ref['frames'], ref['mask_ratio'])
    assert bb.drop_path_rate == 0.0
    assert (neck.decoder_depth, neck.decoder_embed_dim,
            neck.decoder_num_heads) == ref['decoder']
    assert cfg.model.head.norm_pix is True
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.get('dtype') is None  # fp16
    assert ow.clip_grad is None
    assert ow.optimizer.type == 'AdamW'
    assert tuple(ow.optimizer.betas) == ref['betas']
    assert ow.optimizer.weight_decay == ref['wd']
    assert cfg.train_cfg.max_epochs == ref['epochs']

    lr = ref['blr'] * ref['batch'] / 256
    min_lr = ref['min_lr'] * ref['batch'] / 256
    cfg.merge_from_dict({'model': tiny_pretrain_model(),
                         'optim_wrapper.type': 'OptimWrapper'})
    cfg.optim_wrapper.pop('loss_scale')  # fp32 on the CPU
    model = _build(cfg, 'mmpretrain')
    watched = 'backbone.blocks.0.attn.qkv.weight'
    lrs, optim = trace(cfg, model, [watched], 'mmpretrain', ITERS,
                       ref['epochs'] * ITERS)
    theirs = reference_schedule(lr, min_lr, ref['schedule'], ref['warmup'],
                                ITERS)
    np.testing.assert_allclose(lrs[watched], theirs[:ref['epochs'] * ITERS],
                               rtol=1e-9, atol=lr * 1e-8)
    assert max(lrs[watched]) == pytest.approx(lr)

    skip = ('pos_embed', 'cls_token', 'mask_token')
    decay = {id(p): g['weight_decay'] for g in optim.param_groups
             for p in g['params']}
    checked = 0
    for pname, param in model.named_parameters():
        if pname.startswith('teacher.'):
            continue  # not trained by the optimizer
        want = 0.0 if (param.ndim == 1 or pname.endswith('.bias')
                       or pname.rsplit('.', 1)[-1] in skip) else ref['wd']
        assert decay[id(param)] == want, pname
        checked += 1
    assert checked > 20 and 'neck.mask_token' in dict(
        model.named_parameters())


@pytest.mark.parametrize('path', ACTION_CONFIGS, ids=name)
def test_finetune_config_builds_and_loads_train_and_test_views(
        path, kinetics):
    cfg = load_config(path)
    run = FINETUNE_RUNS[name(path).rsplit('_', 1)[1].split('-')[0]]
    assert cfg.default_scope == 'mmaction'
    for hook in ('RNGStateHook', 'CheckpointSafeGlobalsHook',
                 'PreemptionHook'):
        assert dict(type=f'mmpretrain.{hook}') in cfg.custom_hooks, hook
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend='atomic_local')
    data = _first_clip(cfg, 'train_dataloader', 'mmaction', kinetics)
    assert tuple(data['inputs'].shape) == (1, 3, 16, 224, 224)
    views = run['views'][0] * run['views'][1]
    data = _first_clip(cfg, 'test_dataloader', 'mmaction', kinetics)
    assert tuple(data['inputs'].shape) == (views, 3, 16, 224, 224)

    cfg.merge_from_dict(dict(model=tiny_action_model()))
    model = _build(cfg, 'mmaction')
    assert model.backbone.fc_norm is not None  # mean pooling + fc_norm
    clips = torch.randn(2, 1, 3, FRAMES, IMG, IMG)
    scores = model.cls_head(model.extract_feat(clips)[0])
    assert scores.shape == (2, 2)


@pytest.mark.filterwarnings('ignore:Detected call of:UserWarning')
@pytest.mark.parametrize('path', ACTION_CONFIGS, ids=name)
def test_finetune_recipe_is_the_reference(path):
    """Numbers, and the lr of the lowest (patch embedding, 0.75^13) and the
    highest (head, 1) layer group at every iteration."""
    ref, cfg = FINETUNE, Config.fromfile(path)
    run = FINETUNE_RUNS[name(path).rsplit('_', 1)[1].split('-')[0]]
    assert 64 * cfg.train_dataloader.batch_size == ref['batch']
    assert cfg.train_dataloader.drop_last is True
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert ('Flip' in train) == run['flip']
    model = cfg.model
    assert model.backbone.drop_path_rate == ref['drop_path']
    assert model.backbone.use_mean_pooling is True
    assert model.backbone.init_cfg.type == 'Pretrained'
    assert model.backbone.init_cfg.prefix == 'backbone.'
    assert model.cls_head.num_classes == run['classes']
    assert model.cls_head.label_smooth_eps == ref['smoothing']
    # the reference's head: trunc. normal std 0.02 x --init_scale 0.001
    assert model.cls_head.init_std == pytest.approx(0.02 * 0.001)
    blend = {a.type: a for a in model.data_preprocessor.blending.augments}
    assert blend['MixupBlending'].alpha == ref['mixup']
    assert blend['CutmixBlending'].alpha == ref['cutmix']
    assert {a.num_classes for a in blend.values()} == {run['classes']}
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.clip_grad is None
    assert ow.constructor == 'LearningRateDecayOptimizerConstructor'
    assert ow.paramwise_cfg.decay_rate == ref['layer_decay']
    assert ow.paramwise_cfg.num_layers == ref['blocks']
    assert tuple(ow.optimizer.betas) == ref['betas']
    assert ow.optimizer.weight_decay == ref['wd']
    assert cfg.train_cfg.max_epochs == run['epochs']

    lr = run['blr'] * ref['batch'] / 256
    min_lr = ref['min_lr'] * ref['batch'] / 256
    # fp32 on the CPU, as the config's comment says
    cfg.merge_from_dict({'model': tiny_action_model(),
                         'optim_wrapper.type': 'OptimWrapper'})
    net = _build(cfg, 'mmaction')
    low = 'backbone.patch_embed.projection.weight'
    high = 'cls_head.fc_cls.weight'
    lrs, _ = trace(cfg, net, [low, high], 'mmaction', ITERS,
                   run['epochs'] * ITERS)
    theirs = reference_schedule(lr, min_lr, run['epochs'], ref['warmup'],
                                ITERS)
    for param, scale in ((low, ref['layer_decay']**(ref['blocks'] + 1)),
                         (high, 1.0)):
        np.testing.assert_allclose(lrs[param], theirs * scale, rtol=1e-9,
                                   atol=lr * scale * 1e-8)


def test_clip_augmentations_draw_once_per_clip_or_per_frame():
    """RandAugment changes every frame of a clip alike (the reference's
    video RandAugment), random erasing each frame on its own (its
    RandomErasing over the frames as a batch)."""
    from mmaction.registry import TRANSFORMS
    cfg = Config.fromfile(ACTION_CONFIGS[0])
    with DefaultScope.overwrite_default_scope('mmaction'):
        augment = TRANSFORMS.build(cfg.rand_augment)
        erase = TRANSFORMS.build(cfg.random_erasing)
    frame = np.random.default_rng(0).integers(0, 256, (40, 48, 3),
                                              dtype=np.uint8)
    changed, erased_apart = 0, 0
    for seed in range(8):
        random.seed(seed)
        np.random.seed(seed)
        out = augment(dict(imgs=[frame.copy() for _ in range(6)]))['imgs']
        assert all(np.array_equal(f, out[0]) for f in out), seed
        changed += not np.array_equal(out[0], frame)
        # one draw for all 12 frames: all erased alike or none
        out = erase(dict(imgs=[frame.copy() for _ in range(12)]))['imgs']
        erased_apart += len({f.tobytes() for f in out}) > 1
    assert changed >= 6 and erased_apart >= 4
