"""Backbone/decoder shapes, teacher behaviour, MAE reduction, bad input."""
import pytest
import torch
from mmengine.optim import OptimWrapper
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
    before = {k: v.clone()
              for k, v in model.teacher.module.state_dict().items()}
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
    scores = model.teacher_forward(x)[0]
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


@pytest.mark.parametrize('schedule', ['epoch', 'iter'])
def test_training_forward_sets_alpha_from_the_progress(message_hub, schedule):
    """A training forward advances alpha_t to the progress the Runner
    writes into the current MessageHub (epoch or iteration) before the step.
    """
    model = build_tiny_hpm(masker=dict(schedule=schedule))
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    for t, alpha, n_hard in ((0, 0.05, 0), (4, 0.25, 3), (9, 0.5, 6)):
        set_progress(message_hub, epoch=t, max_epochs=10, it=t, max_iters=10)
        losses = model(x, None, mode='loss')
        assert losses['alpha'].item() == pytest.approx(alpha)
        assert int(model.masker.num_hard_t) == n_hard  # int(12 * alpha)
        assert model.masker.mines == (n_hard > 0)


def test_outside_a_runner_alpha_must_be_set(message_hub):
    """No progress in the hub: a scheduled alpha_t that was never set stops
    the step with one line naming the masker and set_alpha(); a constant or
    set one is kept."""
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    model = build_tiny_hpm()
    for step in (model.loss, lambda *a: model(*a, mode='loss')):
        with pytest.raises(RuntimeError) as err:
            step(x, None)
        assert 'HardPatchMasker' in str(err.value)
        assert 'set_alpha()' in str(err.value)
        assert '\n' not in str(err.value)
    model.masker.set_alpha(0.5)
    assert model(x, None, mode='loss')['alpha'].item() == 0.5
    for masker in (dict(fixed_alpha=0.25), dict(ramp='none')):
        alpha = build_tiny_hpm(masker=masker)(x, None, mode='loss')['alpha']
        assert alpha.item() == masker.get('fixed_alpha', 0.5)


def batch(seed: int = 0, size: int = 2) -> dict:
    """A data batch as the data loader gives it (uint8-valued images)."""
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=torch.randint(0, 256, (size, 3, TINY_IMG, TINY_IMG),
                                     generator=g).float(), data_samples=None)


def test_teacher_follows_each_optimizer_step_with_its_epoch(message_hub):
    """train_step with no hook: after each optimizer step the teacher
    averages towards the moved student with the momentum of the hub's
    epoch."""
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))
    set_progress(message_hub, epoch=50, max_epochs=100)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    d = model.teacher.decay(50)  # 0.99945
    for step in range(2):
        before = {k: v.clone()
                  for k, v in model.teacher.module.state_dict().items()}
        model.train_step(batch(step), wrapper)
        student = model.student_modules().state_dict()
        after = model.teacher.module.state_dict()
        for name in ('neck.decoder_pred.weight', 'backbone.cls_token'):
            assert not torch.equal(student[name], before[name])
            assert torch.allclose(
                after[name], d * before[name] + (1 - d) * student[name],
                atol=1e-7), name
        assert int(model.teacher.steps) == step + 1


def test_teacher_waits_for_the_real_optimizer_step(message_hub):
    """Gradient accumulation over 2 iterations: one teacher update per
    optimizer step. Steps of an optimizer without the student's parameters,
    and of a model that never ran a training forward, move no teacher."""
    model, idle = build_tiny_hpm(masker=dict(fixed_alpha=0.5)), \
        build_tiny_hpm()
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    others = [torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1),
              torch.optim.SGD(idle.parameters(), lr=0.1)]
    steps = []
    for i in range(4):
        model.train_step(batch(i), wrapper)
        steps.append(int(model.teacher.steps))
        for opt in others:
            opt.step()
    assert steps == [0, 1, 1, 2]
    assert int(idle.teacher.steps) == 0


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
    ref = model.teacher_forward(x, with_scores=True)[0]
    model.teacher_dtype = {'bf16': torch.bfloat16,
                           'fp16': torch.float16}[dtype]
    low = model.teacher_forward(x, with_scores=True)[0]
    assert low.dtype == torch.float32 and low.shape == ref.shape
    # bf16 keeps 8 mantissa bits: scores agree to about 1% of their range
    tol = 0.02 * (ref.max() - ref.min()).item()
    assert (low - ref).abs().max().item() < tol
    built = build_tiny_hpm(teacher_dtype=dtype)
    assert built.teacher_dtype is not None


def test_bad_teacher_dtype():
    with pytest.raises(ValueError, match='teacher_dtype'):
        build_tiny_hpm(teacher_dtype='fp8')


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


def test_defaults_are_the_released_vit_b_recipe():
    """Built without arguments: ViT-B/16 at 224, a 512-wide 8-block decoder.

    Built on the meta device: shapes only, no memory.
    """
    from hpm_mm.models import HardPatchMasker, HPMHead

    with torch.device('meta'):
        vit, dec, head = HPMViT(), HPMDecoder(), HPMHead(num_masked=147)
    assert (vit.embed_dims, vit.num_layers, vit.num_patches,
            vit.patch_embed.projection.kernel_size, vit.num_masked) == (
                768, 12, 196, (16, 16), 147)
    # MAE's decoder defaults: a ViT-L encoder width (configs set it)
    assert (dec.decoder_embed.in_features, dec.decoder_embed.out_features,
            dec.decoder_pos_embed.shape[1]) == (1024, 512, 197)
    for blocks in (dec.decoder_blocks, dec.decoder_blocks_losspred):
        assert len(blocks) == 8
        assert blocks[0].attn.num_heads == 16
        assert blocks[0].ffn.layers[0][0].out_features == 4 * 512
    assert dec.decoder_pred.out_features == 16 * 16 * 3
    assert (head.patch_size, head.in_channels, head.norm_pix,
            head.loss_rec_weight) == (16, 3, False, 1.0)
    assert HardPatchMasker(num_patches=196,
                           num_masked=147).alpha_max == 0.5
    teacher = HPMTeacherEMA(torch.nn.Linear(2, 2))
    assert (teacher.momentum_start, teacher.momentum_end,
            teacher.warmup_epochs) == (0.999, 0.9999, 100)


def test_every_layer_norm_has_eps_1e_6():
    model = build_tiny_hpm()
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.LayerNorm)]
    # 2 per block (encoder, 2 + 2 decoder blocks), 3 final norms; student
    # and teacher
    assert len(norms) == 2 * (2 * (TINY_ARCH['num_layers'] + 2 + 2) + 3)
    assert all(m.eps == 1e-6 for m in norms)


def test_backbone_options_reach_mae_vit():
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    vit = HPMViT(arch=TINY_ARCH, img_size=(TINY_IMG, TINY_IMG),
                 patch_size=TINY_PATCH, mask_ratio=0.5,
                 norm_cfg=dict(type='LN', eps=1e-5))
    assert vit.ln1.eps == 1e-5
    # mask=True (the default): MAE's own random mask at this mask_ratio
    latent, mask, ids_restore = vit(x)
    assert latent.shape == (2, 1 + L // 2, 32)
    assert mask.shape == ids_restore.shape == (2, L)
    assert (mask.sum(1) == L // 2).all()
    # mask None or False: every patch
    for no_mask in (None, False):
        assert vit(x, no_mask)[-1].shape == (2, 1 + L, 32)
    # one visible patch is enough
    assert tiny_vit(mask_ratio=1 - 1 / L).num_visible == 1


def test_decoder_options_reach_both_branches():
    cfg = dict(type='Xavier', layer='Linear')
    dec = HPMDecoder(num_patches=L, patch_size=TINY_PATCH, in_chans=1,
                     embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                     decoder_num_heads=2, mlp_ratio=2.,
                     norm_cfg=dict(type='LN', eps=1e-5), init_cfg=cfg)
    assert dec.init_cfg == cfg
    assert dec.decoder_pred.out_features == TINY_PATCH**2
    assert dec.decoder_pred_losspred.out_features == TINY_PATCH**2
    for blocks in (dec.decoder_blocks, dec.decoder_blocks_losspred):
        assert blocks[0].ffn.layers[0][0].out_features == 32  # 2 x 16
    norms = [m for m in dec.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 6 and all(m.eps == 1e-5 for m in norms)


def test_model_keeps_its_data_preprocessor():
    model = build_tiny_hpm()
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        [123.675, 116.28, 103.53])


def test_extract_feat_encodes_every_patch():
    model = build_tiny_hpm()
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    feats = model.extract_feat(x)
    assert torch.equal(feats[-1], model.backbone(x, mask=None)[-1])
    assert feats[-1].shape == (2, 1 + L, 32)


def test_teacher_skipped_while_no_patch_is_hard():
    """n_hard = 0 (early epochs): the teacher's forward is not run."""
    model = build_tiny_hpm(masker=dict(fixed_alpha=1 / 24))  # 12/24 -> 0

    def boom(*a, **k):
        raise AssertionError('teacher ran with n_hard = 0')

    model.teacher.module.backbone.forward = boom
    model.loss(torch.randn(2, 3, TINY_IMG, TINY_IMG), None)


def test_model_on_another_device_draws_its_mask_there():
    """On the meta device (a stand-in for CUDA) nothing lands on the CPU."""
    for alpha in (0.0, 0.5):
        model = build_tiny_hpm(masker=dict(fixed_alpha=alpha)).to('meta')
        seen = {}
        model.masker.register_forward_hook(
            lambda mod, args, out: seen.setdefault('mask', out))
        losses = model.loss(
            torch.zeros(2, 3, TINY_IMG, TINY_IMG, device='meta'), None)
        assert seen['mask'].device.type == 'meta'
        assert all(v.device.type == 'meta' for v in losses.values())


def test_pretrained_init_loads_instead_of_mae_init(tmp_path):
    src = build_tiny_hpm()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(1.0)  # non-zero biases: not MAE's initialisation
    path = str(tmp_path / 'hpm.pth')
    torch.save(dict(state_dict=src.state_dict()), path)
    model = build_tiny_hpm(
        init_cfg=dict(type='Pretrained', checkpoint=path))
    for name, p in src.named_parameters():
        assert torch.equal(model.state_dict()[name], p), name
        assert torch.equal(
            model.state_dict()[f'teacher.module.{name}'], p), name


def test_teacher_ema_edges():
    """Momentum bounds, no warm-up, a root-level parameter, train()."""
    lin = torch.nn.Linear(2, 2)
    t = HPMTeacherEMA(lin, momentum_start=0.5, momentum_end=0.75,
                      warmup_epochs=0)
    assert t.decay(0) == 0.75
    with torch.no_grad():
        lin.weight.add_(4.0)
    before = t.module.weight.clone()
    t.update(lin, epoch=0)  # names of a root module's own parameters
    assert torch.allclose(t.module.weight, 0.75 * before + 0.25 * lin.weight)
    t.train()
    assert t.training and not t.module.training
