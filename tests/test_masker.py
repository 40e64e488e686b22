"""HardPatchMasker: counts, hard patches, uniformity, schedule."""
import math
import os

import pytest
import torch

from hpm_mm.models import HardPatchMasker

from .conftest import set_progress

B, L, M = 64, 49, 36


def draw(scores, num_masked, num_hard, batch_size=None, num_patches=None,
         mine='hard', device=None):
    """One mask with exactly ``num_hard`` mined patches."""
    if scores is not None:
        batch_size, num_patches = scores.shape
    masker = HardPatchMasker(num_patches=num_patches, num_masked=num_masked,
                             mine=mine)
    # an alpha whose int(M * alpha) is num_hard whatever the rounding
    masker.set_alpha(min(1.0, (num_hard + 0.5) / num_masked))
    assert masker.num_hard_t.item() == num_hard
    return masker(scores, batch_size, device)


def reference_mask(scores, noise, num_masked, num_hard, mine='hard'):
    """Per-sample loop version of the masking rule, given the same noise."""
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    for b in range(scores.shape[0]):
        order = sorted(range(scores.shape[1]), key=lambda i: scores[b, i],
                       reverse=mine == 'hard')
        hard = torch.tensor(order[:num_hard], dtype=torch.long)
        mask[b, hard] = True
        rest = [i for i in range(scores.shape[1]) if i not in set(
            hard.tolist())]
        # the remaining masked patches: largest noise among the rest
        order = sorted(rest, key=lambda i: noise[b, i].item(), reverse=True)
        mask[b, order[:num_masked - num_hard]] = True
    return mask


@pytest.mark.parametrize('num_hard', [0, 1, 18, 36])
def test_exact_counts_and_hard_patches(num_hard):
    scores = torch.randn(B, L)
    mask = draw(scores, M, num_hard)
    assert mask.dtype == torch.bool and mask.shape == (B, L)
    assert (mask.sum(1) == M).all()
    if num_hard:
        top = torch.topk(scores, num_hard, dim=1).indices
        assert mask.gather(1, top).all()


@pytest.mark.parametrize('mine', ['hard', 'easy'])
@pytest.mark.parametrize('num_hard', [0, 7, 36])
def test_vectorised_equals_per_sample_reference(num_hard, mine):
    scores = torch.randn(8, L)
    torch.manual_seed(3)
    mask = draw(scores, M, num_hard, mine=mine)
    torch.manual_seed(3)
    noise = torch.rand(8, L)
    assert torch.equal(mask,
                       reference_mask(scores, noise, M, num_hard, mine))


@pytest.mark.parametrize('num_hard', [1, 18, 36])
def test_easy_mining_masks_the_lowest_scores(num_hard):
    scores = torch.randn(B, L)
    mask = draw(scores, M, num_hard, mine='easy')
    assert (mask.sum(1) == M).all()
    low = torch.topk(scores, num_hard, dim=1, largest=False).indices
    assert mask.gather(1, low).all()
    if num_hard < M:  # some random patches among the rest: not all lowest
        assert not mask.gather(
            1, torch.topk(scores, M, dim=1, largest=False).indices).all()


def test_random_part_is_uniform():
    """The M - n_hard random patches are uniform over the non-hard ones."""
    torch.manual_seed(0)
    n, num, m, h = 20000, 10, 6, 2
    scores = torch.arange(num, dtype=torch.float).expand(n, num)  # hard: 8, 9
    mask = draw(scores, m, h)
    assert mask[:, 8:].all()
    freq = mask[:, :8].float().mean(0)  # each: (m - h) / (num - h) = 0.5
    expected = (m - h) / (num - h)
    # binomial std of a frequency over n draws; 5 sigma
    tol = 5 * math.sqrt(expected * (1 - expected) / n)
    assert (freq - expected).abs().max() < tol
    # 4 random of 8 without replacement: P(0 and 1 both masked) = 4/8 * 3/7
    both = (mask[:, 0] & mask[:, 1]).float().mean()
    p_both = (4 / 8) * (3 / 7)
    assert abs(both - p_both) < 5 * math.sqrt(p_both * (1 - p_both) / n)


def test_uniform_mask_matches_mae_random_masking():
    """With n_hard = 0 the mask is MAE's for the same random state."""
    from mmpretrain.models.selfsup.mae import MAEViT
    torch.manual_seed(5)
    ours = draw(None, 147, 0, 4, 196)
    torch.manual_seed(5)
    _, mae_mask, _ = MAEViT.random_masking(None, torch.zeros(4, 196, 8),
                                           0.75)
    assert torch.equal(ours, mae_mask.bool())


def at(masker, hub, **progress):
    """(alpha_t, n_hard) once the schedule is at ``progress``."""
    set_progress(hub, **progress)
    masker.update_alpha(hub)
    return masker.alpha_t.item(), int(masker.num_hard_t)


def vit_b_masker(**kwargs) -> HardPatchMasker:
    return HardPatchMasker(num_patches=196, num_masked=147, **kwargs)


def test_alpha_schedule_epoch(message_hub):
    masker = vit_b_masker(alpha_max=0.5, schedule='epoch')
    alpha, n_hard = at(masker, message_hub, epoch=0, max_epochs=800)
    assert alpha == pytest.approx(0.5 / 800) and n_hard == 0
    assert not masker.mines
    alpha, n_hard = at(masker, message_hub, epoch=799, max_epochs=800)
    assert alpha == pytest.approx(0.5) and n_hard == 73
    assert masker.mines
    alpha, n_hard = at(masker, message_hub, epoch=399, max_epochs=800)
    assert alpha == pytest.approx(0.25) and n_hard == 36


def test_alpha_schedule_iter(message_hub):
    masker = vit_b_masker(alpha_max=0.5, schedule='iter')
    alpha, _ = at(masker, message_hub, it=0, max_iters=1000)
    assert alpha == pytest.approx(0.5 / 1000)
    alpha, _ = at(masker, message_hub, it=999, max_iters=1000)
    assert alpha == pytest.approx(0.5)


def test_hard_to_easy_schedule(message_hub):
    """alpha_max (E - e) / E: the easy-to-hard values in reverse order."""
    up = vit_b_masker(alpha_max=0.5, schedule='epoch')
    down = vit_b_masker(alpha_max=0.5, schedule='epoch', ramp='down')
    E = 200
    counts_up, counts_down = [], []
    for e in range(E):
        counts_up.append(at(up, message_hub, epoch=e, max_epochs=E)[1])
        counts_down.append(at(down, message_hub, epoch=e, max_epochs=E)[1])
    assert counts_down == counts_up[::-1]
    assert counts_down[0] == 73 and counts_down[-1] == 0
    assert at(down, message_hub, epoch=0, max_epochs=E)[0] == \
        pytest.approx(0.5)
    assert at(down, message_hub, epoch=100, max_epochs=E) == \
        (pytest.approx(0.25), 36)
    down_iter = vit_b_masker(alpha_max=0.5, schedule='iter', ramp='down')
    assert at(down_iter, message_hub, it=999, max_iters=1000)[0] == \
        pytest.approx(0.5 / 1000)
    assert at(down_iter, message_hub, it=0, max_iters=1000)[0] == \
        pytest.approx(0.5)


@pytest.mark.parametrize('alpha_max,n_hard', [(0.5, 73), (1.0, 147),
                                              (0.25, 36)])
def test_hardest_from_the_start(message_hub, alpha_max, n_hard):
    """ramp='none': alpha_max from the first epoch to the last."""
    masker = vit_b_masker(alpha_max=alpha_max, ramp='none')
    for e in (0, 1, 199):
        assert at(masker, message_hub, epoch=e, max_epochs=200) == \
            (alpha_max, n_hard)
    scores = torch.randn(4, 196)
    mask = masker(scores, 4)
    assert (mask.sum(1) == 147).all()
    assert mask.gather(1, torch.topk(scores, n_hard, dim=1).indices).all()


def test_missing_progress_is_a_clear_error():
    """Outside a Runner (no progress in the hub) an alpha_t that was never
    set is an error; one that was set is kept."""
    from mmengine.logging import MessageHub

    # a new hub becomes the current one (a name used before would not)
    MessageHub.get_instance(f'hpm_test_empty_hub_{os.urandom(6).hex()}')
    masker = vit_b_masker()
    with pytest.raises(RuntimeError, match='MessageHub'):
        masker.update_alpha()
    masker.set_alpha(0.25)
    masker.update_alpha()
    assert masker.alpha_t.item() == 0.25 and int(masker.num_hard_t) == 36


def test_no_mask_before_alpha_is_set():
    """A scheduled masker draws nothing until alpha_t is set; a constant
    one (fixed_alpha, ramp='none') is set from its construction."""
    masker = vit_b_masker()
    with pytest.raises(RuntimeError, match='set_alpha'):
        masker(torch.randn(2, 196), 2)
    masker.set_alpha(0.5)
    assert masker(torch.randn(2, 196), 2).sum() == 2 * 147
    for kwargs in (dict(fixed_alpha=0.5), dict(ramp='none')):
        masker = vit_b_masker(**kwargs)
        assert masker.alpha_t.item() == 0.5 and masker.mines
        assert masker(torch.randn(2, 196), 2).sum() == 2 * 147


@pytest.mark.parametrize('kwargs,match', [
    (dict(schedule='cosine'), 'schedule'),
    (dict(alpha_max=1.5), 'alpha_max'),
    (dict(fixed_alpha=-0.1), 'fixed_alpha'),
    (dict(mine='random'), 'mine'),
    (dict(ramp='cosine'), 'ramp'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vit_b_masker(**kwargs)


def test_bad_call():
    masker = HardPatchMasker(num_patches=L, num_masked=M)
    masker.set_alpha(0.5)
    with pytest.raises(ValueError, match='scores'):
        masker(None, 2)
    with pytest.raises(ValueError, match='scores'):
        masker(torch.randn(2, L + 1), 2)
    with pytest.raises(ValueError, match='num_masked'):
        HardPatchMasker(num_patches=16, num_masked=0)
    with pytest.raises(ValueError, match='num_masked'):
        HardPatchMasker(num_patches=16, num_masked=16)


def test_edges_of_the_valid_range():
    """alpha 1, one masked patch."""
    masker = HardPatchMasker(num_patches=16, num_masked=12, fixed_alpha=1.0)
    assert int(masker.num_hard_t) == 12 and masker.num_hard(0.25) == 3
    scores = torch.randn(3, 16)
    top = torch.topk(scores, 12, dim=1).indices
    assert torch.equal(masker(scores, 3),
                       torch.zeros(3, 16, dtype=torch.bool).scatter_(
                           1, top, True))
    mask = draw(None, 1, 0, 3, 16)
    assert (mask.sum(1) == 1).all()


def test_mask_follows_the_device():
    """Scores' device, else the given one (meta stands in for CUDA)."""
    meta = torch.device('meta')
    cpu_rng = torch.get_rng_state()
    assert draw(None, 12, 0, 2, 16, device=meta).device == meta
    # drawn by that device's generator, the CPU's left alone
    assert torch.equal(torch.get_rng_state(), cpu_rng)
    masker = HardPatchMasker(num_patches=16, num_masked=12).to(meta)
    masker.set_alpha(0.5)
    scores = torch.zeros(2, 16, device=meta)
    assert masker(scores, 2).device == meta
