"""Every downstream config resolves, follows the recipe and builds."""
import glob
import os
import os.path as osp
import subprocess
import sys
from unittest import mock

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

from hpm_mm.converters import read_checkpoint
from hpm_mm.testing import shrink_cls, shrink_det, shrink_seg

from ..conftest import outside_a_runner
from .helpers import ROOT, config

CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for sub in ('cls', 'det', 'seg')
    for p in glob.glob(osp.join(ROOT, 'configs', sub, '*.py')))
FAMILY = dict(
    cls=(CLS_MODELS, shrink_cls),
    det=(DET_MODELS, shrink_det),
    seg=(SEG_MODELS, shrink_seg))


def test_all_configs_present():
    assert {osp.basename(c) for c in CONFIGS} == {
        'hpm_vit-base-p16_8xb48-coslr-100e_in1k.py',
        'hpm_vit-large-p16_8xb64-coslr-50e_in1k.py',
        'hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py',
        'hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py',
        'hpm_vit-large-p16_mask-rcnn_8xb8-lsj-100e_coco.py',
        'hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py',
        'hpm_vit-large-p16_upernet_8xb2-amp-160k_ade20k-512x512.py',
    }


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_loads_the_encoder(path, hpm_ckpt):
    """Tiny sizes, real recipe: the model builds and its backbone holds
    the checkpoint's encoder after ``init_weights``."""
    cfg = config(path)
    family = path.split(osp.sep)[1]
    assert 'hpm_mm' in cfg.custom_imports.imports
    if family != 'cls':  # cls needs only mmpretrain's stack
        assert f'hpm_mm.downstream.{family}' in cfg.custom_imports.imports
    assert cfg.custom_imports.allow_failed_imports is False
    registry, shrink = FAMILY[family]
    shrink(cfg, hpm_ckpt)
    model = registry.build(cfg.model)
    with outside_a_runner():  # mmpretrain's own Pretrained init (cls)
        model.init_weights()
    ckpt = read_checkpoint(hpm_ckpt)['state_dict']
    own = model.backbone.state_dict()
    for key in ('layers.0.attn.qkv.weight', 'layers.3.ffn.layers.1.bias',
                'patch_embed.projection.weight'):
        assert torch.equal(own[key], ckpt['backbone.' + key]), key


def _full_size(path: str):
    """Build the real-size backbone of a config (no init, no forward)."""
    cfg = config(path)
    registry = FAMILY[path.split(osp.sep)[1]][0]
    linspace = torch.linspace

    def cpu_linspace(*args, **kwargs):  # mmseg's MAE calls .item() on it
        return linspace(*args, **dict(kwargs, device='cpu'))

    with mock.patch.object(torch, 'linspace', cpu_linspace), \
            torch.device('meta'):
        return cfg, registry.build(cfg.model)


@pytest.mark.parametrize(
    'path', [c for c in CONFIGS if 'large' in c], ids=osp.basename)
def test_large_configs_are_consistent_at_full_size(path):
    cfg, model = _full_size(path)
    assert model.backbone.num_layers == 24
    assert model.backbone.embed_dims == 1024


def test_classification_recipes():
    ft = config('configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py')
    bb, ow = ft.model.backbone, ft.optim_wrapper
    assert (bb.arch, bb.out_type, bb.final_norm) == ('base', 'avg_featmap',
                                                     False)
    assert bb.drop_path_rate == 0.1
    assert bb.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/hpm_vit-b_800e.pth',
        prefix='backbone.')
    assert ow.constructor == 'LearningRateDecayOptimWrapperConstructor'
    assert ow.paramwise_cfg.layer_decay_rate == 0.8
    assert ow.optimizer.type == 'AdamW'
    # the authors' scripts/finetune_base.sh: 8 GPUs x 48, blr 5e-4
    assert ow.optimizer.lr == pytest.approx(5e-4 * 384 / 256)
    assert ow.optimizer.weight_decay == 0.05
    assert ft.train_dataloader.batch_size * 8 == 384
    assert ft.auto_scale_lr.base_batch_size == 384
    assert ft.train_cfg.max_epochs == 100
    assert [s.type for s in ft.param_scheduler] == [
        'LinearLR', 'CosineAnnealingLR'
    ]
    assert ft.param_scheduler[0].end == 5
    # floor 1e-6 x each group's scale (tests/test_recipes.py traces it)
    assert ft.param_scheduler[1].eta_min_ratio == pytest.approx(
        1e-6 / ow.optimizer.lr)
    assert ft.model.head.loss.label_smooth_val == 0.1
    assert [(a.type, a.alpha) for a in ft.model.train_cfg.augments] == [
        ('Mixup', 0.8), ('CutMix', 1.0)
    ]
    steps = {t.type: t for t in ft.train_dataloader.dataset.pipeline}
    assert steps['RandAugment'].magnitude_level == 9
    assert steps['RandAugment'].magnitude_std == 0.5
    assert steps['RandAugment'].policies == 'timm_increasing'
    assert steps['RandomErasing'].erase_prob == 0.25

    large = config('configs/cls/hpm_vit-large-p16_8xb64-coslr-50e_in1k.py')
    assert large.model.backbone.arch == 'large'
    assert large.train_cfg.max_epochs == 50
    assert large.param_scheduler[1].end == 50
    assert large.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8
    # scripts/finetune_large.sh: 8 GPUs x 64, blr 5e-4
    assert large.train_dataloader.batch_size * 8 == 512
    assert large.optim_wrapper.optimizer.lr == pytest.approx(5e-4 * 512 /
                                                             256)
    assert large.auto_scale_lr.base_batch_size == 512
    assert large.model.backbone.drop_path_rate == 0.1

    lin = config(
        'configs/cls/hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.py')
    bb = lin.model.backbone
    assert (bb.out_type, bb.final_norm, bb.frozen_stages) == ('cls_token',
                                                              True, 12)
    assert lin.model.neck == dict(type='ClsBatchNormNeck', input_features=768)
    assert lin.optim_wrapper.optimizer == dict(
        type='SGD', lr=1e-3 * 2048 / 256, momentum=0.9, weight_decay=0.0)
    assert lin.train_dataloader.batch_size * 8 == 2048
    assert lin.train_cfg.max_epochs == 100
    assert lin.param_scheduler[0].end == 10
    assert [t.type for t in lin.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs'
    ]
    # bicubic everywhere, as the authors' main_linprob.py
    crop = lin.train_dataloader.dataset.pipeline[1]
    assert (crop.scale, crop.interpolation, crop.backend) == (224, 'bicubic',
                                                              'pillow')
    for loader in (lin.val_dataloader, lin.test_dataloader):
        steps = {t.type: t for t in loader.dataset.pipeline}
        resize = steps['ResizeEdge']
        assert (resize.scale, resize.edge, resize.interpolation,
                resize.backend) == (256, 'short', 'bicubic', 'pillow')
        assert steps['CenterCrop'].crop_size == 224


def test_linear_probe_norm_is_batchnorm_without_affine(hpm_ckpt):
    cfg = shrink_cls(
        config('configs/cls/hpm_vit-base-p16_8xb256-linear-coslr-100e_in1k.'
               'py'), hpm_ckpt)
    model = CLS_MODELS.build(cfg.model)
    bn = model.neck.bn
    assert isinstance(bn, torch.nn.BatchNorm1d)
    assert not bn.affine and bn.eps == 1e-6
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith('head.') for n in trainable)


def test_detection_recipe():
    cfg = config(
        'configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py')
    bb = cfg.model.backbone
    assert (bb.type, bb.arch, bb.window_size, bb.use_rel_pos) == ('ViTDet',
                                                                  'base', 14,
                                                                  True)
    assert bb.img_size == (1024, 1024) and bb.pretrain_img_size == 224
    assert bb.drop_path_rate == 0.1
    with torch.device('meta'):
        backbone = DET_MODELS.build(bb)
    assert [i for i, blk in enumerate(backbone.layers)
            if blk.window_size == 0] == [2, 5, 8, 11]
    assert backbone.pos_embed.shape == (1, 14, 14, 768)
    # relative positions over the 64 x 64 input grid, or a 14 x 14 window
    assert backbone.layers[2].attn.rel_pos_h.shape == (127, 64)
    assert backbone.layers[0].attn.rel_pos_h.shape == (27, 64)
    assert cfg.model.neck.type == 'SimpleFeaturePyramid'
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper'
    assert ow.constructor == 'ViTLayerDecayOptimWrapperConstructor'
    assert ow.optimizer == dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1)
    assert ow.paramwise_cfg.layer_decay_rate == 0.7
    loader = cfg.train_dataloader
    assert loader.batch_size * 8 == 64
    repeat = loader.dataset.times
    assert cfg.train_cfg.max_epochs * repeat == 100
    steps = [t.type for t in loader.dataset.dataset.pipeline]
    assert steps[2:5] == ['RandomResize', 'RandomCrop', 'FilterAnnotations']
    assert loader.dataset.dataset.pipeline[2].ratio_range == (0.1, 2.0)
    assert cfg.model.data_preprocessor.pad_size_divisor == 1024
    assert cfg.val_evaluator.metric == ['bbox', 'segm']

    large = config(
        'configs/det/hpm_vit-large-p16_mask-rcnn_8xb8-lsj-100e_coco.py')
    with torch.device('meta'):
        backbone = DET_MODELS.build(large.model.backbone)
    assert [i for i, blk in enumerate(backbone.layers)
            if blk.window_size == 0] == [5, 11, 17, 23]
    assert large.model.neck.in_channels == 1024


def test_segmentation_recipe():
    cfg = config(
        'configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py'
    )
    assert cfg.model.backbone.type == 'CheckedMAE'
    assert cfg.model.pretrained is None
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.loss_scale == 'dynamic'
    assert ow.constructor == 'LayerDecayOptimizerConstructor'
    assert ow.paramwise_cfg == dict(num_layers=12, layer_decay_rate=0.65)
    assert ow.optimizer.lr == 1e-4 and ow.optimizer.weight_decay == 0.05
    assert cfg.get('fp16') is None
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.test_cfg.mode == 'slide'
    assert cfg.param_scheduler[0].end == 1500
    large = config(
        'configs/seg/hpm_vit-large-p16_upernet_8xb2-amp-160k_ade20k-512x512.'
        'py')
    assert large.optim_wrapper.paramwise_cfg.num_layers == 24
    assert large.model.backbone.out_indices == [7, 11, 15, 23]
    assert large.optim_wrapper.type == 'AmpOptimWrapper'
    # not published; chosen to keep ViT-B's patch-embedding lr multiplier
    decay = large.optim_wrapper.paramwise_cfg.layer_decay_rate
    assert decay == 0.8
    assert decay**25 == pytest.approx(0.65**13, rel=0.05)
    assert large.model.backbone.drop_path_rate == 0.2


def test_layer_decay_groups_for_detector(hpm_ckpt):
    """Block i of the ViTDet backbone gets lr * 0.7 ** (L - i)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    cfg = shrink_det(
        config('configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py'),
        hpm_ckpt)
    model = DET_MODELS.build(cfg.model)
    ow_cfg = dict(cfg.optim_wrapper.to_dict(), type='OptimWrapper')
    ow_cfg.pop('loss_scale')
    with DefaultScope.overwrite_default_scope('mmdet'):
        ow = build_optim_wrapper(model, ow_cfg)
    groups = {g['param_name']: g for g in ow.optimizer.param_groups}
    L = 4
    lr = 1e-4
    assert groups['backbone.pos_embed']['lr'] == pytest.approx(lr * 0.7**
                                                               (L + 1))
    assert groups['backbone.pos_embed']['weight_decay'] == 0.0
    assert groups['backbone.layers.2.attn.qkv.weight']['lr'] == \
        pytest.approx(lr * 0.7**(L - 2))
    assert groups['backbone.layers.2.attn.qkv.weight']['weight_decay'] == 0.1
    assert groups['backbone.layers.2.ln1.weight']['weight_decay'] == 0.0
    assert groups['rpn_head.rpn_cls.weight']['lr'] == pytest.approx(lr)
    assert groups['neck.stages.0.1.ln.weight']['weight_decay'] == 0.0
    assert groups['neck.stages.0.0.1.weight']['weight_decay'] == 0.0
    assert len(groups) == len(list(model.parameters()))


def test_custom_imports_register_everything():
    """A fresh interpreter that only loads det/seg configs (as mmdet's and
    mmseg's own tools/train.py do) gets hpm_mm's modules registered."""
    code = (
        'from mmengine.config import Config\n'
        'for path in {paths!r}:\n'
        '    Config.fromfile(path)\n'
        'from mmdet.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS\n'
        'from mmseg.registry import MODELS as SEG\n'
        'assert MODELS.get("ViTDet") and MODELS.get("SimpleFeaturePyramid")\n'
        'assert OPTIM_WRAPPER_CONSTRUCTORS.get('
        '"ViTLayerDecayOptimWrapperConstructor")\n'
        'assert SEG.get("CheckedMAE")\n'
        'print("registered")\n').format(paths=[
            osp.join(ROOT, c) for c in CONFIGS
            if c.startswith(('configs/det', 'configs/seg'))
        ])
    res = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'registered' in res.stdout


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_missing_pretrained_checkpoint_is_named(path, tmp_path):
    from hpm_mm.cli import check_checkpoint_paths
    cfg = Config.fromfile(path)
    missing = str(tmp_path / 'no_such_hpm.pth')
    cfg.model.backbone.init_cfg.checkpoint = missing
    with pytest.raises(FileNotFoundError,
                       match=r'model\.backbone\.init_cfg\.checkpoint does '
                       f'not exist: {missing}'):
        check_checkpoint_paths(cfg)


def test_train_tool_stops_on_missing_checkpoint(tmp_path):
    import subprocess
    import sys
    det = osp.join(ROOT, 'configs', 'det',
                   'hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py')
    coco = tmp_path / 'coco'
    (coco / 'annotations').mkdir(parents=True)
    (coco / 'annotations' / 'instances_train2017.json').write_text('{}')
    (coco / 'annotations' / 'instances_val2017.json').write_text('{}')
    proc = subprocess.run([
        sys.executable, osp.join(ROOT, 'tools', 'train.py'), det,
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={coco}/',
        f'val_dataloader.dataset.data_root={coco}/',
        f'test_dataloader.dataset.data_root={coco}/',
        f'val_evaluator.ann_file={coco}/annotations/instances_val2017.json',
        f'model.backbone.init_cfg.checkpoint={tmp_path}/missing.pth'
    ], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert 'model.backbone.init_cfg.checkpoint does not exist' in last
