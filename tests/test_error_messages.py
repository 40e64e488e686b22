"""Every bad value gets its one-line error, said where it is detected.

The message is what a user reads: each case lists the names it must hold
(the class, the argument, the value), not its sentence.
"""
import os

import pytest
import torch
from mmengine.logging import MessageHub

from hpm_mm.errors import ConfigError
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
        ('HardPatchMasker', 'schedule', 'cosine')),
    'masker alpha_max': (
        lambda: masker(alpha_max=1.5), ValueError,
        ('HardPatchMasker', 'alpha_max', '1.5')),
    'masker fixed_alpha': (
        lambda: masker(fixed_alpha=-0.1), ValueError,
        ('HardPatchMasker', 'fixed_alpha', '-0.1')),
    'masker no progress': (
        alpha_without_progress, RuntimeError,
        ('HardPatchMasker', 'alpha_t', 'MessageHub', 'set_alpha()')),
    'masker all masked': (
        lambda: HardPatchMasker(num_patches=16, num_masked=16), ValueError,
        ('HardPatchMasker', 'num_masked', '16')),
    'masker without alpha': (
        draw_without_alpha, RuntimeError,
        ('HardPatchMasker', 'alpha_t', 'MessageHub', 'set_alpha()')),
    'masker no scores': (
        mine_without_scores, ValueError,
        ('HardPatchMasker', 'scores', '(2, 16)')),
    'loss mode': (
        lambda: LossPredictionLoss('ranking'), ValueError,
        ('LossPredictionLoss', 'mode', 'ranking')),
    'loss weight': (
        lambda: LossPredictionLoss(loss_weight=-1), ValueError,
        ('LossPredictionLoss', 'loss_weight', '-1')),
    'head weight': (
        lambda: HPMHead(num_masked=3, loss_rec_weight=-1), ValueError,
        ('HPMHead', 'loss_rec_weight', '-1')),
    'teacher momentum_start': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_start=1.2),
        ValueError, ('HPMTeacherEMA', 'momentum_start', '1.2')),
    'teacher momentum_end': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_end=0),
        ValueError, ('HPMTeacherEMA', 'momentum_end', '0')),
    'teacher momentum 1': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), momentum_end=1.0),
        ValueError, ('HPMTeacherEMA', 'momentum_end', '1.0')),
    'teacher warmup': (
        lambda: HPMTeacherEMA(torch.nn.Linear(2, 2), warmup_epochs=-1),
        ValueError, ('HPMTeacherEMA', 'warmup_epochs', '-1')),
    'teacher student': (
        update_from_empty_student, RuntimeError,
        ('HPMTeacherEMA', 'student', '0.weight', '2.weight')),
    'vit mask_ratio': (
        lambda: vit(mask_ratio=1.5), ValueError,
        ('HPMViT', 'mask_ratio', '1.5')),
    'vit img_size': (
        lambda: vit(img_size=30), ValueError,
        ('HPMViT', 'img_size', '30', 'patch_size', '16')),
    'vit nothing visible': (
        lambda: vit(mask_ratio=0.95), ValueError,
        ('HPMViT', 'mask_ratio', '0.95')),
    'vit mask size': (
        wrong_mask, ValueError, ('HPMViT', 'mask', '9', '16')),
    'hpm no neck': (
        lambda: build_tiny_hpm(neck=None), ValueError,
        ('HPM', 'neck', 'head')),
    'hpm neck size': (
        lambda: build_tiny_hpm(neck=dict(num_patches=64)), ConfigError,
        ('neck.num_patches', '64', 'backbone', '16')),
    'hpm neck width': (
        lambda: build_tiny_hpm(backbone=dict(arch='deit-tiny')),
        ConfigError, ('neck.embed_dim', '32', 'deit-tiny', '192')),
    'hpm neck width, arch dict': (
        lambda: build_tiny_hpm(neck=dict(embed_dim=48)), ConfigError,
        ('neck.embed_dim', '48', 'backbone', '32')),
    'hpm head patch size': (
        lambda: build_tiny_hpm(head=dict(patch_size=32)), ConfigError,
        ('head.patch_size', '32', 'backbone.patch_size', '16')),
    'hpm neck patch size': (
        lambda: build_tiny_hpm(neck=dict(patch_size=32)), ConfigError,
        ('neck', '3072', 'head.patch_size', '768')),
    'hpm neck feature width, pixel head': (
        lambda: build_tiny_hpm(neck=dict(predict_feature_dim=32)),
        ConfigError, ('neck', '32', 'head.patch_size', '768')),
    'hpm teacher_dtype': (
        lambda: build_tiny_hpm(teacher_dtype='fp8'), ValueError,
        ('HPM', 'teacher_dtype', 'fp8')),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_value_message(case):
    make, error, names = CASES[case]
    with pytest.raises(error) as err:
        make()
    message = str(err.value)
    assert '\n' not in message
    for name in names:
        assert name in message, (name, message)
