"""Every pretraining config resolves its _base_ and builds its model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

from .conftest import ROOT, deep_update, tiny_model_overrides
from .test_feature_targets import shrink_feature_target

# the video configs (Kinetics-400, SSv2): tests/video/test_video_configs.py;
# the video demo's: tests/video/test_video_visualization.py
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', 'pretrain', '*.py'))
    if not p.endswith(('_k400-16x4.py', '_ssv2-16x2.py', 'video-demo_cpu.py')))
DEMO = 'hpm_vit-demo_cpu.py'


def check_recipe(cfg: Config, path: str) -> None:
    """The shared pre-training recipe (the authors' recipe) and hooks."""
    assert cfg.custom_imports.imports == ['hpm_mm']
    # fp16 AMP, but fp32 in the CPU demo (any entry point, e.g. `mim train`)
    assert cfg.optim_wrapper.type == ('OptimWrapper' if osp.basename(path)
                                      == DEMO else 'AmpOptimWrapper')
    assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
    assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95)
    assert cfg.optim_wrapper.paramwise_cfg == dict(flat_decay_mult=0.0)
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert pipeline == [
        'CheckedLoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
        'PackInputs'
    ]
    # the authors' data loading: PIL decoding, last partial batch dropped;
    # mmcv returns BGR, the preprocessor makes it RGB
    load = cfg.train_dataloader.dataset.pipeline[0]
    assert load.get('imdecode_backend') == 'pillow'
    assert load.get('color_type') == 'color_ignore_orientation'
    assert cfg.train_dataloader.drop_last is True
    assert cfg.model.data_preprocessor.to_rgb is True
    if osp.basename(path) != DEMO:  # the paper's recipe
        # 8 GPUs; lr = 1.5e-4 x total batch / 256, total 2048 (PRETRAIN.md)
        # or 256 (scripts/pretrain_base.sh)
        total = cfg.train_dataloader.batch_size * 8 * \
            cfg.optim_wrapper.get('accumulative_counts', 1)
        assert total in (256, 2048)
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 *
                                                               total / 256)
        assert cfg.auto_scale_lr.base_batch_size == total
        sched = cfg.param_scheduler
        assert sched[0].end == 40 and sched[1].end == cfg.train_cfg.max_epochs
    for hook in ('NonFiniteLossHook', 'CheckpointKeysHook', 'RNGStateHook',
                 'CheckpointSafeGlobalsHook'):
        assert dict(type=hook) in cfg.custom_hooks
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend='atomic_local')


def test_configs_found():
    names = {osp.basename(c) for c in CONFIGS}
    assert {'hpm_vit-b.py', 'hpm_vit-b_200e.py', 'hpm_vit-l.py',
            'mae_vit-b.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_resolves_and_builds(path, tmp_path):
    cfg = Config.fromfile(path)
    check_recipe(cfg, path)
    if cfg.model.type == 'HPM':
        if osp.basename(path) != DEMO:
            deep_update(cfg.model, tiny_model_overrides())
            shrink_feature_target(cfg.model, tmp_path)
    else:
        tiny = tiny_model_overrides()
        deep_update(cfg.model, dict(backbone=tiny['backbone'],
                                    neck=tiny['neck'], head=tiny['head']))
    model = MODELS.build(cfg.model)
    model.init_weights()


#: The authors' two ViT-B commands (8 GPUs each): config name ->
#: (images per GPU, accumulation steps, epochs, lr).
AUTHORS = {
    # scripts/pretrain_base.sh: --batch_size 32 --accum_iter 1 --epochs 800
    # --blr 1.5e-4 (lr = blr x 256 / 256)
    'hpm_vit-base-p16_8xb32-amp-coslr-800e_in1k.py': (32, 1, 800, 1.5e-4),
    # PRETRAIN.md: --batch_size 32 --accum_iter 8 --epochs 200 --blr 1.5e-4
    # (lr = blr x 2048 / 256)
    'hpm_vit-base-p16_8xb32-accum8-amp-coslr-200e_in1k.py':
    (32, 8, 200, 1.2e-3),
    # PRETRAIN.md's total batch without accumulation, 800 and 200 epochs
    'hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py': (256, 1, 800, 1.2e-3),
    'hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py': (256, 1, 200, 1.2e-3),
}


@pytest.mark.parametrize('name', sorted(AUTHORS))
def test_authors_commands(name):
    """Batch, accumulation, epochs, lr, schedule and model of the authors'
    two ViT-B commands (scripts/pretrain_base.sh, PRETRAIN.md)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', name))
    per_gpu, accumulate, epochs, lr = AUTHORS[name]
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.optim_wrapper.get('accumulative_counts', 1) == accumulate
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.auto_scale_lr.base_batch_size == per_gpu * 8 * accumulate
    warm, cosine = cfg.param_scheduler
    assert (warm.begin, warm.end) == (0, 40)
    assert (cosine.begin, cosine.end, cosine.T_max) == (40, epochs,
                                                        epochs - 40)
    assert cosine.eta_min == 0.0  # main_pretrain.py: --min_lr 0
    # --model mae_vit_base_patch16_dec512d8b --mask_ratio 0.75
    # --learning_loss --relative, norm_pix_loss off by default
    m = cfg.model
    assert (m.backbone.arch, m.backbone.mask_ratio) == ('b', 0.75)
    assert (m.neck.decoder_embed_dim, m.neck.decoder_depth) == (512, 8)
    assert m.head.loss_pred.mode == 'relative'
    assert m.head.norm_pix is False


def test_recipes():
    b = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-b.py'))
    assert b.train_cfg.max_epochs == 800 and b.model.backbone.arch == 'b'
    assert b.model.head.norm_pix is False
    assert b.model.masker.alpha_max == 0.5
    short = Config.fromfile(
        osp.join(ROOT, 'configs/pretrain/hpm_vit-b_200e.py'))
    assert short.train_cfg.max_epochs == 200
    assert short.param_scheduler[1].T_max == 160
    large = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-l.py'))
    assert large.model.backbone.arch == 'l'
    assert large.model.neck.embed_dim == 1024
    mae = Config.fromfile(osp.join(ROOT, 'configs/pretrain/mae_vit-b.py'))
    assert mae.model.type == 'MAE' and mae.model.head.norm_pix is False
    assert mae.optim_wrapper == b.optim_wrapper


def test_model_input_is_the_authors_pil_tensor(tmp_path):
    """Loader + data preprocessor of the pre-training configs give the
    tensor of the authors' pipeline: PIL ``Image.open(f).convert('RGB')``
    (no EXIF rotation), ToTensor, Normalize (crop and flip aside)."""
    import numpy as np
    import torch
    from mmpretrain.registry import TRANSFORMS
    from PIL import Image
    from torchvision import transforms as T

    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/hpm_vit-b.py'))
    rng = np.random.default_rng(0)
    # a different ramp per channel: a swapped channel order cannot match
    arr = np.stack([
        np.tile(np.linspace(0, 255, 48), (40, 1)),
        np.tile(np.linspace(255, 0, 40)[:, None], (1, 48)),
        rng.integers(0, 256, (40, 48)).astype(float)
    ], axis=2).astype(np.uint8)
    path = str(tmp_path / 'img.JPEG')
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": torchvision's loader ignores it
    Image.fromarray(arr).save(path, quality=90, exif=exif)

    load = TRANSFORMS.build(cfg.train_dataloader.dataset.pipeline[0])
    pack = TRANSFORMS.build(dict(type='PackInputs'))
    sample = pack(load(dict(img_path=path)))
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    # a batch of one, as the configs' default_collate stacks it
    ours = preprocessor(dict(inputs=sample['inputs'][None],
                             data_samples=[sample['data_samples']]))['inputs']
    ours = ours[0] if isinstance(ours, list) else ours  # one view

    ref = T.Compose([
        T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    ])(Image.open(path).convert('RGB'))
    assert ours.shape == (1, 3, 40, 48)
    assert torch.allclose(ours[0], ref, atol=1e-5)
