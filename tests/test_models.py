"""Backbone/decoder shapes, teacher behaviour, MAE reduction, bad input."""
import pytest
import torch
from mmpretrain.registry import MODELS

from hpm_mm.models import HPMDecoder, HPMTeacherEMA, HPMViT

from .conftest import (TINY_ARCH, TINY_IMG, TINY_PATCH, build_tiny_hpm,
                       set_progress)

L = (TINY_IMG // TINY_PATCH)**2  # 16
K = int(L * 0.25)  # 4


def tiny_vit(**kw):
    return HPMViT(arch=TINY_ARCH, img_size=TINY_IMG, patch_size=TINY_PATCH,
                  **kw)


def test_backbone_shapes_and_visible_tokens():
    torch.manual_seed(0)
    vit = tiny_vit()
    vit.init_weights()
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    mask = torch.zeros(2, L, dtype=torch.bool)
    mask[:, K:] = True
    latent, out_mask, ids_restore = vit(x, mask)
    assert latent.shape == (2, 1 + K, 32)
    assert out_mask is mask and ids_restore.shape == (2, L)
    # Visible-first order is undone by ids_restore.
    ids_shuffle = torch.argsort(ids_restore, dim=1)
    assert torch.equal(ids_shuffle[:, :K], torch.arange(K).expand(2, K))
    full = vit(x, mask=None)
    assert isinstance(full, tuple) and full[-1].shape == (2, 1 + L, 32)


def test_decoder_shapes_and_checkpoint_names():
    dec = HPMDecoder(num_patches=L, patch_size=TINY_PATCH, embed_dim=32,
                     decoder_embed_dim=16, decoder_depth=2,
                     decoder_num_heads=2)
    latent = torch.randn(3, 1 + K, 32)
    ids_restore = torch.stack([torch.randperm(L) for _ in range(3)])
    pixels, scores = dec(latent, ids_restore)
    assert pixels.shape == (3, L, TINY_PATCH**2 * 3)
    assert scores.shape == (3, L)
    # unmasked path: no mask token
    tokens = dec.embed(torch.randn(3, 1 + L, 32))
    assert tokens.shape == (3, 1 + L, 16)
    # released shapes: a (p*p*3, D) loss-predictor projection
    assert dec.decoder_pred_losspred.weight.shape == (TINY_PATCH**2 * 3, 16)
    assert len(dec.decoder_blocks_losspred) == len(dec.decoder_blocks)


def test_init_matches_mae_recipe():
    model = build_tiny_hpm()
    for name, m in model.backbone.named_modules():
        if isinstance(m, torch.nn.Linear):
            assert torch.count_nonzero(m.bias) == 0, name
    assert torch.count_nonzero(model.neck.decoder_pred_losspred.bias) == 0
    assert model.neck.mask_token.std() > 0


def test_teacher_starts_equal_eval_and_frozen():
    model = build_tiny_hpm()
    model.train()
    teacher = model.teacher
    assert not teacher.module.training
    # teacher weights are buffers: invisible to the optimizer
    assert not any(n.startswith('teacher.') for n, _ in
                   model.named_parameters())
    student = model.student_modules().state_dict()
    t_state = teacher.module.state_dict()
    assert student.keys() == t_state.keys()
    for n, s in student.items():
        assert torch.equal(s, t_state[n]), n


def test_teacher_momentum_schedule():
    t = HPMTeacherEMA(torch.nn.Linear(2, 2))
    assert t.decay(0) == pytest.approx(0.999)
    assert t.decay(50) == pytest.approx(0.99945)
    assert t.decay(99) == pytest.approx(0.999 + 0.99 * 0.0009)
    assert t.decay(100) == pytest.approx(0.9999)
    assert t.decay(500) == pytest.approx(0.9999)


def test_teacher_update_is_exact_ema():
    model = build_tiny_hpm()
    student = model.student_modules()
    before = {k: v.clone() for k, v in model.teacher.module.state_dict().items()}
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    model.teacher.update(student, epoch=30)
    d = 0.999 + 0.3 * 0.0009
    after = model.teacher.module.state_dict()
    for name, s in student.named_parameters():
        assert torch.allclose(after[name], d * before[name] + (1 - d) * s,
                              atol=1e-6), name
    assert int(model.teacher.steps) == 1


def test_teacher_never_runs_reconstructor(message_hub):
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))

    def boom(*a, **k):
        raise AssertionError('teacher ran its reconstructor')

    model.teacher.module.neck.reconstruct = boom
    losses = model.loss(torch.randn(2, 3, TINY_IMG, TINY_IMG), None)
    assert set(losses) == {'loss_rec', 'loss_pred', 'rank_acc', 'alpha'}
    assert losses['alpha'].item() == pytest.approx(0.5)


def test_hard_patches_come_from_teacher(message_hub):
    """At alpha 0.5 the teacher's top-scored patches are always masked."""
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))
    x = torch.randn(3, 3, TINY_IMG, TINY_IMG)
    scores = model.teacher_scores(x)
    seen = {}

    orig = model.backbone.forward

    def spy(inputs, mask=True):
        seen['mask'] = mask
        return orig(inputs, mask)

    model.backbone.forward = spy
    model.loss(x, None)
    n_hard = int(12 * 0.5)
    top = torch.topk(scores, n_hard, dim=1).indices
    assert seen['mask'].gather(1, top).all()
    assert (seen['mask'].sum(1) == 12).all()


def test_alpha_from_runner_progress(message_hub):
    model = build_tiny_hpm(masker=dict(type='HardPatchMasker'))
    set_progress(message_hub, epoch=9, max_epochs=10)
    losses = model.loss(torch.randn(2, 3, TINY_IMG, TINY_IMG), None)
    assert losses['alpha'].item() == pytest.approx(0.5)


def test_reduces_to_mae():
    """alpha = 0 and loss-prediction weight 0: the loss is MAE's."""
    hpm = build_tiny_hpm(
        masker=dict(fixed_alpha=0.0),
        head=dict(loss_pred=dict(type='LossPredictionLoss', loss_weight=0.)))
    mae = MODELS.build(
        dict(
            type='MAE',
            backbone=dict(
                type='MAEViT', arch=TINY_ARCH, img_size=TINY_IMG,
                patch_size=TINY_PATCH, mask_ratio=0.75),
            neck=dict(
                type='MAEPretrainDecoder', num_patches=L,
                patch_size=TINY_PATCH, embed_dim=32, decoder_embed_dim=16,
                decoder_depth=2, decoder_num_heads=2),
            head=dict(
                type='MAEPretrainHead', norm_pix=False,
                patch_size=TINY_PATCH,
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    student = {
        k: v
        for k, v in hpm.state_dict().items() if not k.startswith('teacher.')
    }
    result = mae.load_state_dict(student, strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys and all(
        'losspred' in k for k in result.unexpected_keys)
    x = torch.randn(4, 3, TINY_IMG, TINY_IMG)
    for seed in range(3):
        torch.manual_seed(seed)
        mae_loss = mae.loss(x, None)['loss']
        torch.manual_seed(seed)
        hpm_loss, _ = hpm.parse_losses(hpm.loss(x, None))
        assert hpm_loss.item() == pytest.approx(mae_loss.item(), rel=1e-5)


@pytest.mark.parametrize('ratio', [0.0, 1.0, -0.5, 1.5])
def test_bad_mask_ratio(ratio):
    with pytest.raises(ValueError, match='mask_ratio must be in'):
        tiny_vit(mask_ratio=ratio)


def test_bad_image_size():
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        HPMViT(arch=TINY_ARCH, img_size=30, patch_size=TINY_PATCH)


def test_mismatched_neck():
    with pytest.raises(ValueError, match='num_patches'):
        build_tiny_hpm(neck=dict(num_patches=64))


@pytest.mark.parametrize('dtype', ['bf16', 'fp16'])
def test_teacher_dtype_flag_keeps_scores_close(dtype):
    """Autocast teacher: fp32 scores out, close to the fp32 teacher's."""
    model = build_tiny_hpm()
    x = torch.randn(4, 3, TINY_IMG, TINY_IMG)
    ref = model.teacher_scores(x)
    model.teacher_dtype = {'bf16': torch.bfloat16,
                           'fp16': torch.float16}[dtype]
    low = model.teacher_scores(x)
    assert low.dtype == torch.float32 and low.shape == ref.shape
    # bf16 keeps 8 mantissa bits: scores agree to about 1% of their range
    tol = 0.02 * (ref.max() - ref.min()).item()
    assert (low - ref).abs().max().item() < tol
    built = build_tiny_hpm(teacher_dtype=dtype)
    assert built.teacher_dtype is not None


def test_bad_teacher_dtype():
    with pytest.raises(ValueError, match='teacher_dtype'):
        build_tiny_hpm(teacher_dtype='fp8')


def test_training_without_teacher_hook_fails(message_hub):
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.0))
    model.TEACHER_CHECK_STEPS = 3
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    for _ in range(3):
        model.loss(x, None)
    with pytest.raises(RuntimeError, match='HPMTeacherHook'):
        model.loss(x, None)
    model.teacher.update(model.student_modules(), epoch=0)
    model.loss(x, None)  # updated once: fine


def test_teacher_updates_after_moving_the_model():
    """.to()/.cuda() replace buffer tensors; the update must follow them."""
    model = build_tiny_hpm().to(torch.float64)  # re-creates every buffer
    student = model.student_modules()
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    before = model.teacher.module.state_dict()['neck.decoder_pred.weight']
    before = before.clone()
    model.teacher.update(student, epoch=0)
    after = model.teacher.module.state_dict()['neck.decoder_pred.weight']
    assert after.dtype == torch.float64
    assert torch.allclose(after, before + 0.001, atol=1e-9)
