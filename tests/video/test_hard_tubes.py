"""Hard tubes: HardTubeMasker and VideoHPM.

Our choices (the HPM authors released no video code): the teacher scores
all N tokens of the unmasked clip; the scores are averaged over time and
the top ``int(alpha_t * m)`` of the Hp * Wp positions are masked at every
time step with random others up to m; ``per_token`` mines on the N tokens.
"""
import pytest
import torch
from mmpretrain.registry import MODELS

from hpm_mm.models import HardPatchMasker
from hpm_mm.video import HardTubeMasker

from ..conftest import set_progress
from .test_video_model import (FRAMES, IMG, N, OUT, clips, record,
                               tiny_cfg)

STEPS, HW = 4, 16  # time steps, spatial positions per step
M_STEP = 12  # masked per step


def masker_at(num_hard, per_token=False):
    masker = HardTubeMasker(HW, M_STEP, STEPS, per_token=per_token)
    num_masked = M_STEP * (STEPS if per_token else 1)
    # an alpha whose int(num_masked * alpha) is num_hard
    masker.set_alpha(min(1.0, (num_hard + 0.5) / num_masked))
    assert masker.num_hard_t.item() == num_hard
    return masker


def expected_mask(scores, noise, num_masked, num_hard):
    """Per-clip loop: the ``num_hard`` top-scored, then the largest noise
    among the rest, up to ``num_masked``."""
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    for b in range(scores.shape[0]):
        order = sorted(range(scores.shape[1]), key=lambda i: -scores[b, i])
        hard = order[:num_hard]
        rest = sorted((i for i in range(scores.shape[1]) if i not in hard),
                      key=lambda i: -noise[b, i].item())
        mask[b, hard + rest[:num_masked - num_hard]] = True
    return mask


@pytest.mark.parametrize('num_hard', [0, 1, 6, 12])
def test_hard_tubes_are_top_pooled_and_shared_over_time(num_hard):
    B = 32
    scores = torch.randn(B, STEPS * HW)
    pooled = scores.view(B, STEPS, HW).mean(1)
    if num_hard:  # the scores tell pooling from first step or max apart
        top = pooled.topk(num_hard).indices.sort().values
        for other in (scores[:, :HW], scores.view(B, STEPS, HW).amax(1)):
            assert not torch.equal(top, other.topk(num_hard).indices.sort()
                                   .values)
    masker = masker_at(num_hard)
    torch.manual_seed(0)
    mask = masker(scores, B)
    torch.manual_seed(0)
    noise = torch.rand(B, HW)
    steps = mask.view(B, STEPS, HW)
    assert (steps == steps[:, :1]).all()
    assert (steps.sum(-1) == M_STEP).all()
    assert torch.equal(steps[:, 0],
                       expected_mask(pooled, noise, M_STEP, num_hard))


def test_per_token_masks_exactly_m_tokens():
    B, M = 32, M_STEP * STEPS
    scores = torch.randn(B, STEPS * HW)
    masker = masker_at(20, per_token=True)
    torch.manual_seed(0)
    mask = masker(scores, B)
    torch.manual_seed(0)
    noise = torch.rand(B, STEPS * HW)
    assert (mask.sum(1) == M).all()
    assert torch.equal(mask, expected_mask(scores, noise, M, 20))
    steps = mask.view(B, STEPS, HW)
    assert not (steps == steps[:, :1]).all()  # no tubes


@pytest.mark.parametrize('schedule', ['epoch', 'iter'])
def test_ramp_follows_the_image_schedule(message_hub, schedule):
    kwargs = dict(alpha_max=0.5, schedule=schedule)
    tubes = HardTubeMasker(HW, M_STEP, STEPS, **kwargs)
    tokens = HardTubeMasker(HW, M_STEP, STEPS, per_token=True, **kwargs)
    image = HardPatchMasker(num_patches=HW, num_masked=M_STEP, **kwargs)
    for epoch, it in ((0, 0), (3, 40), (9, 99)):
        set_progress(message_hub, epoch=epoch, max_epochs=10, it=it,
                     max_iters=100)
        for m in (tubes, tokens, image):
            m.update_alpha(message_hub)
        assert tubes.alpha_t == image.alpha_t == tokens.alpha_t
        alpha = image.alpha_t.item()
        assert alpha == pytest.approx(
            0.5 * ((epoch if schedule == 'epoch' else it) + 1) /
            (10 if schedule == 'epoch' else 100))
        assert tubes.num_hard_t.item() == int(alpha * M_STEP)
        assert tokens.num_hard_t.item() == int(alpha * M_STEP * STEPS)


def hpm(seed=0, distinct_teacher=False, **masker):
    torch.manual_seed(seed)
    model = MODELS.build(tiny_cfg(
        'VideoHPM', mask_ratio=0.5, type='HardTubeMasker', **masker))
    model.init_weights()
    if distinct_teacher:
        gen = torch.Generator().manual_seed(5)
        with torch.no_grad():
            own = dict(model.teacher.module.named_buffers())
            for name in model.teacher.avg_names:  # its weights, not tables
                own[name].add_(0.3 * torch.randn(own[name].shape,
                                                 generator=gen))
    return model


def scores_of(net, video):
    """Predicted losses (B, N) of a backbone+neck pair on whole clips."""
    with torch.no_grad():
        return net.neck.predict_loss(net.neck.embed(net.backbone(video)[0]))


def test_the_teacher_mines(message_hub):
    """At alpha 1 the mask is the top half of the time-pooled scores: the
    teacher's, not the student's."""
    model = hpm(distinct_teacher=True, fixed_alpha=1.0)
    video = clips(6).float()
    seen = record(model.masker, 'mask')
    model.loss(video, None)
    hw = N // (FRAMES // 2)

    def top_tubes(scores):
        pooled = scores.view(6, -1, hw).mean(1)
        top = pooled.topk(hw // 2).indices
        return torch.zeros(6, hw, dtype=torch.bool).scatter_(1, top, True)

    teacher = top_tubes(scores_of(model.teacher.module, video))
    student = top_tubes(scores_of(model, video))
    assert not torch.equal(teacher, student)
    assert torch.equal(seen['mask'], teacher.repeat(1, FRAMES // 2))


def test_share_zero_is_videomae(message_hub):
    """fixed_alpha=0: VideoHPM's mask, reconstruction and loss_rec are
    VideoMAE's on the same weights and RNG state."""
    torch.manual_seed(0)
    mae = MODELS.build(tiny_cfg('VideoMAE', mask_ratio=0.5))
    mae.init_weights()
    model = hpm(seed=1, fixed_alpha=0.0)
    result = model.load_state_dict(mae.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all('losspred' in k or k.startswith('teacher.')
               for k in result.missing_keys)
    video = clips(3).float()
    outs = []
    for net in (mae, model):
        seen = record(net.masker, 'mask', record(net.neck, 'pred'))
        torch.manual_seed(7)
        outs.append((net.loss(video, None), seen))
    (mae_loss, mae_seen), (hpm_loss, hpm_seen) = outs
    assert torch.equal(mae_seen['mask'], hpm_seen['mask'])
    assert hpm_seen['pred'].shape == (3, N // 2, OUT)
    assert torch.equal(mae_seen['pred'], hpm_seen['pred'])
    assert hpm_loss['loss_rec'].item() == pytest.approx(
        mae_loss['loss'].item(), rel=1e-6)
    assert hpm_loss['alpha'].item() == 0


def test_loss_predictor_on_the_masked_tokens():
    """loss_pred is the relative loss of the scores against each masked
    token's (detached) MSE; no gradient from it reaches the pixels."""
    model = hpm(fixed_alpha=0.0)
    head = model.head
    video = clips(2).float()
    mask = model.masker(None, 2)
    pred = torch.randn(2, N // 2, OUT, requires_grad=True)
    scores = torch.randn(2, N // 2, requires_grad=True)
    out = head.loss(pred, scores, video, mask)
    per_token = (pred - head.construct_target(video, mask, N // 2)).pow(
        2).mean(-1)
    assert out['loss_rec'].item() == pytest.approx(per_token.mean().item())
    assert out['loss_pred'].item() == pytest.approx(
        head.loss_pred(scores, per_token).item())
    out['loss_pred'].backward()
    assert pred.grad is None and scores.grad.abs().sum() > 0


def test_an_optimizer_step_updates_the_teacher(message_hub):
    """The HPM post-hook: after one step, teacher = d * teacher + (1 - d) *
    student for VideoHPM too."""
    model = hpm(distinct_teacher=True, fixed_alpha=0.5)
    set_progress(message_hub, epoch=0, max_epochs=10)
    teacher = model.teacher
    before = {k: v.clone() for k, v in teacher.module.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    raw = torch.randint(0, 256, (2, 1, 3, FRAMES, IMG, IMG),
                        dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=raw, data_samples=None), True)
    losses = model(**data, mode='loss')
    assert losses['alpha'].item() == 0.5
    (losses['loss_rec'] + losses['loss_pred']).backward()
    optimizer.step()
    assert teacher.steps.item() == 1
    d = teacher.decay(0)
    student = model.student_modules().state_dict()
    moved = 0
    for k in teacher.avg_names:
        expected = d * before[k] + (1 - d) * student[k]
        assert torch.allclose(teacher.module.state_dict()[k], expected,
                              atol=1e-6), k
        moved += not torch.equal(teacher.module.state_dict()[k], before[k])
    assert moved == len(teacher.avg_names)
