"""LossPredictionLoss equals brute-force references; HPMHead numerics."""
import math

import pytest
import torch

from hpm_mm.models import HPMHead, LossPredictionLoss


def brute_relative(pred, target):
    total, pairs = 0.0, 0
    for b in range(pred.shape[0]):
        n = pred.shape[1]
        for i in range(n):
            for j in range(n):
                lj, li = target[b, j].item(), target[b, i].item()
                if lj == li:
                    continue
                z = pred[b, j].item() - pred[b, i].item()
                sig = 1 / (1 + math.exp(-z))
                if lj > li:
                    total -= math.log(sig + 1e-6)
                else:
                    total -= math.log(1 - sig + 1e-6)
                pairs += 1
    return total / pairs


def brute_absolute(pred, target):
    total, count = 0.0, 0
    for b in range(pred.shape[0]):
        row = target[b].tolist()
        mean = sum(row) / len(row)
        var = sum((x - mean)**2 for x in row) / (len(row) - 1)
        for i, x in enumerate(row):
            z = (x - mean) / math.sqrt(var + 1e-6)
            total += (pred[b, i].item() - z)**2
            count += 1
    return total / count


def test_relative_matches_brute_force_with_ties():
    torch.manual_seed(0)
    pred = torch.randn(3, 9, dtype=torch.float64)
    # integer-valued targets make many ties, which must be ignored
    target = torch.randint(0, 4, (3, 9)).double()
    loss = LossPredictionLoss('relative')(pred, target)
    assert loss.item() == pytest.approx(brute_relative(pred, target),
                                        rel=1e-5)


def test_relative_float32_random():
    torch.manual_seed(1)
    pred, target = torch.randn(4, 12), torch.rand(4, 12)
    loss = LossPredictionLoss('relative', loss_weight=2.0)(pred, target)
    assert loss.item() == pytest.approx(2 * brute_relative(pred, target),
                                        rel=1e-5)


def test_absolute_matches_brute_force():
    torch.manual_seed(2)
    pred, target = torch.randn(3, 10), torch.rand(3, 10)
    loss = LossPredictionLoss('absolute')(pred, target)
    assert loss.item() == pytest.approx(brute_absolute(pred, target),
                                        rel=1e-5)


def test_target_is_detached_and_pred_gets_grad():
    pred = torch.randn(2, 5, requires_grad=True)
    target = torch.rand(2, 5, requires_grad=True)
    LossPredictionLoss()(pred, target).backward()
    assert pred.grad is not None and target.grad is None


def test_all_ties_gives_zero_not_nan():
    loss = LossPredictionLoss()(torch.randn(2, 4), torch.ones(2, 4))
    assert loss.item() == 0.0


def test_bad_mode():
    with pytest.raises(ValueError, match="'relative' or 'absolute'"):
        LossPredictionLoss('ranking')


def test_head_losses_and_rank_acc():
    torch.manual_seed(0)
    p, side = 4, 8  # 2x2 patches of 4 px
    head = HPMHead(num_masked=3, patch_size=p)
    imgs = torch.randn(2, 3, side, side)
    target = head.patchify(imgs)  # (2, 4, 48)
    pred = torch.randn_like(target)
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 1]], dtype=torch.bool)
    per_patch = ((pred - target)**2).mean(-1)
    # scores that order the masked losses perfectly -> rank_acc 1
    out = head.loss(pred, per_patch * 3.0, imgs, mask)
    assert out['loss_rec'].item() == pytest.approx(
        per_patch[mask].mean().item(), rel=1e-6)
    assert out['rank_acc'].item() == 1.0
    assert out['loss_pred'].item() == pytest.approx(
        brute_relative(per_patch[mask].view(2, 3) * 3.0,
                       per_patch[mask].view(2, 3)), rel=1e-5)
    # reversed order -> rank_acc 0
    out = head.loss(pred, -per_patch, imgs, mask)
    assert out['rank_acc'].item() == 0.0


def test_head_norm_pix_target():
    head = HPMHead(num_masked=3, patch_size=4, norm_pix=True)
    imgs = torch.randn(1, 3, 8, 8)
    t = head.construct_target(imgs)
    raw = head.patchify(imgs)
    expect = (raw - raw.mean(-1, keepdim=True)) / (
        raw.var(-1, keepdim=True) + 1e-6).sqrt()
    assert torch.allclose(t, expect)


def test_head_loss_rec_weight_and_channels():
    torch.manual_seed(0)
    imgs = torch.randn(2, 1, 8, 8)  # one channel
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 1]], dtype=torch.bool)
    outs = {}
    for w in (0.0, 0.5, 1.0):
        head = HPMHead(num_masked=3, patch_size=4, in_channels=1,
                       loss_rec_weight=w)
        assert head.construct_target(imgs).shape == (2, 4, 16)
        pred = torch.zeros(2, 4, 16)
        outs[w] = head.loss(pred, torch.randn(2, 4), imgs, mask)
    assert outs[0.0]['loss_rec'].item() == 0.0
    assert outs[0.5]['loss_rec'].item() == pytest.approx(
        0.5 * outs[1.0]['loss_rec'].item())


def test_constant_predictor_ranks_nothing():
    """Equal scores order no pair: rank_acc 0, not 0.5 or 1."""
    head = HPMHead(num_masked=3, patch_size=4)
    imgs = torch.randn(2, 3, 8, 8)
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 1]], dtype=torch.bool)
    out = head.loss(torch.randn(2, 4, 48), torch.zeros(2, 4), imgs, mask)
    assert out['rank_acc'].item() == 0.0
    assert out['loss_pred'].item() == pytest.approx(-math.log(0.5 + 1e-6))
