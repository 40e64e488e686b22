"""Every bad value gets its one-line error, word for word.

The message is what a user reads: it names the class, the setting and the
value. Each case below is checked in full, not by a fragment.
"""
import os

import pytest
import torch
from mmengine.logging import MessageHub

from hpm_mm.cli import ConfigError
from hpm_mm.models import (HardPatchMasker, HPMHead, HPMTeacherEMA, HPMViT,
                           LossPredictionLoss)

from .conftest import TINY_ARCH, TINY_IMG, TINY_PATCH, build_tiny_hpm


def vit(**kw):
    return HPMViT(arch=TINY_ARCH, img_size=kw.pop('img_size', TINY_IMG),
                  patch_size=TINY_PATCH, **kw)


def wrong_mask():
    return vit()(torch.zeros(1, 3, TINY_IMG, TINY_IMG),
                 torch.zeros(1, 9, dtype=torch.bool))


def alpha_without_progress():
    # a new hub becomes the current one: no epoch, no max_epochs
    MessageHub.get_instance(f'hpm_test_no_progress_{os.urandom(6).hex()}')
    return masker().update_alpha()


def masker(**kw):
    return HardPatchMasker(num_patches=16, num_masked=12, **kw)


def draw_without_alpha():
    masker()(torch.randn(2, 16), 2)


def mine_without_scores():
    m = masker()
    m.set_alpha(0.5)
    m(None, 2)


def update_from_empty_student():
    three = torch.nn.Sequential(*(torch.nn.Linear(2, 2) for _ in range(3)))
    HPMTeacherEMA(three).update(torch.nn.Module(), epoch=0)


CASES = {
    'masker schedule': (
        lambda: masker(schedule='cosine'), ValueError,
        "HardPatchMasker: schedule must be 'epoch' or 'iter', got 'cosine'"),
    'masker alpha_max': (
        lambda: masker(alpha_max=1.5), ValueError,
        'HardPatchMasker: alpha_max must be in [0, 1], got 1.5'),
    'masker fixed_alpha': (
        lambda: masker(fixed_alpha=-0.1), ValueError,
        'HardPatchMasker: fixed_alpha must be in [0, 1], got -0.1'),
    'masker no progress': (
        alpha_without_progress, RuntimeError,
        "HardPatchMasker: no 'epoch'/'max_epochs' in MessageHub; run it "
        'under an mmengine Runner or set fixed_alpha'),
    'masker all masked': (
        lambda: HardPatchMasker(num_patches=16, num_masked=16), ValueError,
        'HardPatchMasker: num_masked must be in (0, 16), got 16'),
    'masker without alpha': (
        draw_without_alpha, RuntimeError,
        "HardPatchMasker: alpha_t is not set; in training dict(type="
        "'HPMTeacherHook') in custom_hooks sets it before every iteration, "
        'elsewhere call update_alpha() or set_alpha()'),
    'masker no scores': (
        mine_without_scores, ValueError,
        'HardPatchMasker: mining needs scores of shape (2, 16)'),
    'loss mode': (
        lambda: LossPredictionLoss('ranking'), ValueError,
        "LossPredictionLoss: mode must be 'relative' or 'absolute', got "
        "'ranking'"),
    'loss weight': (
        lambda: LossPredictionLoss(loss_weight=-1), ValueError,
        'LossPredictionLoss: loss_weight must be >= 0, got -1'),
    'head weight': (
        lambda: HPMHead(num_masked=3, loss_rec_weight=-1), ValueError,
        'HPMHead: loss_rec_weight must be >= 0, got -1'),
    'teacher momentum_start': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_start=1.2),
        ValueError,
        'HPMTeacherEMA: momentum_start must be in (0, 1), got 1.2'),
    'teacher momentum_end': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_end=0),
        ValueError, 'HPMTeacherEMA: momentum_end must be in (0, 1), got 0'),
    'teacher momentum 1': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_end=1.0),
        ValueError, 'HPMTeacherEMA: momentum_end must be in (0, 1), got 1.0'),
    'teacher warmup': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), warmup_epochs=-1),
        ValueError, 'HPMTeacherEMA: warmup_epochs must be >= 0, got -1'),
    'teacher student': (
        update_from_empty_student, RuntimeError,
        "HPMTeacherEMA: student lacks parameters ['0.weight', '0.bias', "
        "'1.weight', '1.bias', '2.weight']"),
    'vit mask_ratio': (
        lambda: vit(mask_ratio=1.5), ValueError,
        'HPMViT: mask_ratio must be in (0, 1), got 1.5'),
    'vit img_size': (
        lambda: vit(img_size=30), ValueError,
        'HPMViT: img_size 30 is not divisible by patch_size 16'),
    'vit nothing visible': (
        lambda: vit(mask_ratio=0.95), ValueError,
        'HPMViT: mask_ratio 0.95 leaves no visible patch of 16'),
    'vit mask size': (
        wrong_mask, ValueError, 'HPMViT: mask has 9 patches, the backbone 16'),
    'hpm no neck': (
        lambda: build_tiny_hpm(neck=None), ValueError,
        'HPM: neck and head are required'),
    'hpm neck size': (
        lambda: build_tiny_hpm(neck=dict(num_patches=64)), ConfigError,
        'model.neck.num_patches is 64 but model.backbone has 16 patches '
        '(4x4)'),
    'hpm neck width': (
        lambda: build_tiny_hpm(backbone=dict(arch='deit-tiny')),
        ConfigError,
        'model.neck.embed_dim is 32 but model.backbone (arch deit-tiny) is '
        '192 wide'),
    'hpm neck width, arch dict': (
        lambda: build_tiny_hpm(neck=dict(embed_dim=48)), ConfigError,
        'model.neck.embed_dim is 48 but model.backbone is 32 wide'),
    'hpm head patch size': (
        lambda: build_tiny_hpm(head=dict(patch_size=32)), ConfigError,
        'model.head.patch_size is 32 but model.backbone.patch_size is 16'),
    'hpm neck patch size': (
        lambda: build_tiny_hpm(neck=dict(patch_size=32)), ConfigError,
        'model.neck gives 3072 outputs per patch but model.head.patch_size '
        '16 needs 768 (check model.neck.patch_size and predict_feature_dim)'),
    'hpm neck feature width, pixel head': (
        lambda: build_tiny_hpm(neck=dict(predict_feature_dim=32)),
        ConfigError,
        'model.neck gives 32 outputs per patch but model.head.patch_size '
        '16 needs 768 (check model.neck.patch_size and predict_feature_dim)'),
    'hpm teacher_dtype': (
        lambda: build_tiny_hpm(teacher_dtype='fp8'), ValueError,
        "HPM: teacher_dtype must be None, 'bf16' or 'fp16', got 'fp8'"),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_value_message(case):
    make, error, message = CASES[case]
    with pytest.raises(error) as err:
        make()
    assert str(err.value) == message
