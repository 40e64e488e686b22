"""Feature reconstruction targets: CLIP, DINO and the EMA teacher's tokens."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils.clip_generator_helper import \
    VisionTransformer as CLIPVisionTransformer
from mmpretrain.registry import MODELS

from hpm_mm.converters import CheckpointError, check_checkpoint
from hpm_mm.converters.keymaps import ENCODER
from hpm_mm.models import (CLIPFeatureTarget, DINOFeatureTarget,
                           HPMFeatureHead, LossPredictionLoss)
from hpm_mm.cli import check_checkpoint_paths

from .conftest import (ROOT, TINY_IMG, TINY_PATCH, build_tiny_hpm,
                       deep_update, load_ckpt, tiny_hpm_cfg)
from .test_losses import brute_relative

L = (TINY_IMG // TINY_PATCH)**2  # 16
CLIP_ARCH = dict(
    input_resolution=TINY_IMG, patch_size=TINY_PATCH, width=16, layers=2,
    heads=2, output_dim=12)
DINO_ARCH = dict(
    embed_dims=24, num_layers=2, num_heads=2, feedforward_channels=48)


def tiny_clip(seed: int = 0, **arch) -> CLIPVisionTransformer:
    torch.manual_seed(seed)
    return CLIPVisionTransformer(**{**CLIP_ARCH, **arch}).eval()


def tiny_vit(seed: int = 0, **arch) -> VisionTransformer:
    torch.manual_seed(seed)
    net = VisionTransformer(
        arch={**DINO_ARCH, **arch}, img_size=TINY_IMG, patch_size=TINY_PATCH,
        out_type='raw')
    net.init_weights()
    # init_weights zeroes nothing that matters here; perturb the norms so a
    # wrongly loaded LayerNorm changes the output
    with torch.no_grad():
        for name, p in net.named_parameters():
            if 'ln' in name:
                p.add_(0.1 * torch.randn_like(p))
    net.eval()  # mmpretrain's ViT.train() returns None
    return net


def write_clip(path, net=None, full=True) -> str:
    """OpenAI CLIP names: the whole model (visual.* + text) or visual only."""
    net = net or tiny_clip()
    state = {('visual.' if full else '') + k: v
             for k, v in net.state_dict().items()}
    if full:  # a token of the text tower, left out on loading
        state['text_projection'] = torch.randn(8, 12)
        state['token_embedding.weight'] = torch.randn(10, 8)
    torch.save(state, path)
    return str(path)


def write_dino(path, net=None, names='timm') -> str:
    """DINO's release (timm names) or an mmpretrain classifier."""
    net = net or tiny_vit()
    state = net.state_dict()
    if names == 'timm':
        state = {ENCODER.left(k): v for k, v in state.items()}
        assert None not in state
    elif names == 'backbone':
        state = {'state_dict': {'backbone.' + k: v
                                for k, v in state.items()}}
    torch.save(state, path)
    return str(path)


def clip_target_cfg(path) -> dict:
    return dict(type='CLIPFeatureTarget', checkpoint=path, arch=CLIP_ARCH)


def dino_target_cfg(path) -> dict:
    return dict(type='DINOFeatureTarget', checkpoint=path, arch=DINO_ARCH,
                img_size=TINY_IMG, patch_size=TINY_PATCH)


def shrink_feature_target(model: dict, tmp_path) -> dict:
    """A config's feature target on tiny random networks, in place.

    ``model`` is already on the tiny ViT (``tiny_model_overrides()``).
    """
    gen = model.get('target_generator')
    if gen is None:
        return model
    model.head.pop('patch_size', None)  # HPMFeatureHead: no pixels
    if gen.type == 'CLIPFeatureTarget':
        deep_update(gen, dict(checkpoint=write_clip(tmp_path / 'clip.pth'),
                              arch=CLIP_ARCH))
        model.neck.predict_feature_dim = CLIP_ARCH['output_dim']
    elif gen.type == 'DINOFeatureTarget':
        deep_update(gen, dict(checkpoint=write_dino(tmp_path / 'dino.pth'),
                              arch=DINO_ARCH, img_size=TINY_IMG,
                              patch_size=TINY_PATCH))
        model.neck.predict_feature_dim = DINO_ARCH['embed_dims']
    else:
        model.neck.predict_feature_dim = model.backbone.arch['embed_dims']
    return model


def build_hpm(target=None, width=None, head='HPMFeatureHead', **overrides):
    """A tiny HPM with the given target, decoder width and head type."""
    if target is not None:
        overrides['target_generator'] = target
    if width is not None:
        overrides['neck'] = dict(overrides.get('neck', {}),
                                 predict_feature_dim=width)
    cfg = tiny_hpm_cfg(**overrides)
    if head == 'HPMFeatureHead':
        cfg['head'] = dict(type='HPMFeatureHead')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def build_feature_hpm(kind: str, tmp_path, **overrides):
    """A tiny HPM reconstructing a tiny random ``kind`` target."""
    if kind == 'clip':
        target, width = clip_target_cfg(write_clip(tmp_path / 'c.pth')), 12
    elif kind == 'dino':
        target, width = dino_target_cfg(write_dino(tmp_path / 'd.pth')), 24
    else:
        target, width = dict(type='EMAFeatureTarget'), 32
    return build_hpm(target, width, **overrides)


def test_clip_target_equals_the_clip_visual_tower(tmp_path):
    net = tiny_clip(seed=1)
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    ref = net(x)[0][:, 1:]  # after ln_post and @ proj, cls dropped
    for full in (True, False):
        path = write_clip(tmp_path / f'clip{full}.pth', net, full=full)
        target = CLIPFeatureTarget(path, arch=CLIP_ARCH)
        out = target(x)
        assert out.shape == (2, L, 12)
        assert torch.equal(out, ref)
        assert target.out_channels == 12 and target.num_patches == L


@pytest.mark.parametrize('names', ['timm', 'backbone', 'bare'])
def test_dino_target_equals_the_vit_final_norm_tokens(tmp_path, names):
    net = tiny_vit(seed=2)
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    ref = net(x)[-1][:, 1:]
    path = write_dino(tmp_path / 'dino.pth', net, names=names)
    target = DINOFeatureTarget(
        path, arch=DINO_ARCH, img_size=TINY_IMG, patch_size=TINY_PATCH)
    out = target(x)
    assert out.shape == (2, L, 24)
    assert torch.equal(out, ref)


@pytest.mark.parametrize('kind', ['clip', 'dino'])
def test_target_network_frozen_eval_no_grad(tmp_path, kind):
    model = build_feature_hpm(kind, tmp_path, masker=dict(fixed_alpha=0.5))
    target = model.target_generator
    # no parameters anywhere: never in the optimizer, never a gradient
    assert list(target.parameters()) == []
    assert not any(n.startswith('target_generator.')
                   for n, _ in model.named_parameters())
    # nor in the training checkpoint (read from its own file again)
    assert not any(k.startswith('target_generator.')
                   for k in model.state_dict())
    model.train()
    assert model.backbone.training and not target.net.training
    assert not any(m.training for m in target.net.modules())
    weights = {k: v.clone() for k, v in target.net.named_buffers()}
    assert weights and all(not v.requires_grad for v in weights.values())
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG, requires_grad=True)
    assert not target(x).requires_grad
    losses = model.loss(x.detach(), None)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert all(torch.equal(v, weights[k])
               for k, v in target.net.named_buffers())
    # init_weights (run by the Runner) keeps the loaded weights
    model.init_weights()
    assert all(torch.equal(v, weights[k])
               for k, v in target.net.named_buffers())


def brute_feature_losses(pred, target, mask):
    """Per-patch loop: ||n(p) - n(t)||^2 summed over channels."""
    B, N, _ = pred.shape
    per = torch.zeros(B, N)
    for b in range(B):
        for i in range(N):
            p, t = pred[b, i], target[b, i]
            p = p / max(p.norm().item(), 1e-12)
            t = t / max(t.norm().item(), 1e-12)
            per[b, i] = sum((p[c] - t[c])**2 for c in range(len(p)))
    rec = sum(per[b, i] for b in range(B) for i in range(N)
              if mask[b, i]) / mask.sum()
    return per, rec


def test_feature_head_matches_brute_force():
    torch.manual_seed(0)
    head = HPMFeatureHead(num_masked=3)
    pred, target = torch.randn(2, 6, 5), 3 * torch.randn(2, 6, 5)
    mask = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 0]]).bool()
    scores = torch.randn(2, 6)
    out = head.loss(pred, scores, target, mask)
    per, rec = brute_feature_losses(pred, target, mask)
    assert out['loss_rec'].item() == pytest.approx(rec.item(), rel=1e-6)
    l_m, s_m = per[mask].view(2, 3), scores[mask].view(2, 3)
    assert out['loss_pred'].item() == pytest.approx(
        brute_relative(s_m, l_m), rel=1e-5)
    # the absolute form gets the same per-patch losses
    head_abs = HPMFeatureHead(
        num_masked=3,
        loss_pred=dict(type='LossPredictionLoss', mode='absolute'))
    out = head_abs.loss(pred, scores, target, mask)
    ref = LossPredictionLoss('absolute')(s_m, l_m)
    assert out['loss_pred'].item() == pytest.approx(ref.item(), rel=1e-6)
    # scale of either side does not matter (normalised)
    out2 = head.loss(7 * pred, scores, 0.1 * target, mask)
    assert out2['loss_rec'].item() == pytest.approx(rec.item(), rel=1e-5)


def test_ema_target_adds_no_teacher_forward(tmp_path, message_hub):
    calls = dict(backbone=0, scores=0)
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    for alpha, want_scores in ((0.5, 1), (0.0, 0)):
        model = build_feature_hpm('ema', tmp_path,
                                  masker=dict(fixed_alpha=alpha))
        net = model.teacher.module
        calls.update(backbone=0, scores=0)
        net.backbone.register_forward_hook(
            lambda *a: calls.__setitem__('backbone', calls['backbone'] + 1))
        orig = net.neck.predict_loss

        def spy(tokens, orig=orig):
            calls['scores'] += 1
            return orig(tokens)

        net.neck.predict_loss = spy
        losses = model.loss(x, None)
        assert calls == dict(backbone=1, scores=want_scores), alpha
        # the target is the teacher's final-norm patch tokens
        tokens = net.backbone(x, mask=None)[-1][:, 1:]
        seen = {}
        orig_loss = model.head.loss

        def head_spy(pred, scores, target, mask):
            seen['target'] = target
            return orig_loss(pred, scores, target, mask)

        model.head.loss = head_spy
        model.loss(x, None)
        assert torch.equal(seen['target'], tokens)
        assert losses['loss_rec'].item() > 0


def test_pixel_model_without_mining_runs_no_teacher(message_hub):
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.0))
    calls = []
    model.teacher.module.backbone.register_forward_hook(
        lambda *a: calls.append(1))
    model.loss(torch.randn(2, 3, TINY_IMG, TINY_IMG), None)
    assert calls == []


def test_bad_target_configs(tmp_path):
    clip = clip_target_cfg(write_clip(tmp_path / 'c.pth'))
    with pytest.raises(ValueError, match='needs head HPMFeatureHead'):
        build_hpm(clip, 12, head='HPMHead')
    with pytest.raises(ValueError, match='needs head HPMFeatureHead'):
        build_hpm()
    with pytest.raises(ValueError,
                       match='predict_feature_dim is 768, the target CLIP'):
        build_hpm(clip)
    with pytest.raises(ValueError, match='has 32 channels'):
        build_hpm(dict(type='EMAFeatureTarget'), 12)
    big = write_clip(tmp_path / 'big.pth',
                     tiny_clip(input_resolution=2 * TINY_IMG))
    big_cfg = dict(clip_target_cfg(big),
                   arch=dict(CLIP_ARCH, input_resolution=2 * TINY_IMG))
    with pytest.raises(ValueError, match='gives 64 patches, the backbone 16'):
        build_hpm(big_cfg, 12)
    with pytest.raises(ValueError, match='predict_feature_dim must be'):
        build_tiny_hpm(neck=dict(predict_feature_dim=0))


def test_wrong_checkpoints_name_the_keys(tmp_path):
    with pytest.raises(CheckpointError, match='checkpoint not found'):
        CLIPFeatureTarget(str(tmp_path / 'none.pth'), arch=CLIP_ARCH)
    wide = write_clip(tmp_path / 'wide.pth', tiny_clip(width=32))
    with pytest.raises(CheckpointError,
                       match=r'^CLIPFeatureTarget: checkpoint .*wide.pth does '
                       r'not fit VisionTransformer: 0 keys missing, 0 '
                       r'unexpected, 32 with another shape \(e.g. '
                       r'class_embedding \(32,\) vs \(16,\), '):
        CLIPFeatureTarget(wide, arch=CLIP_ARCH)
    deep = write_dino(tmp_path / 'deep.pth', tiny_vit(num_layers=3))
    with pytest.raises(CheckpointError,
                       match=r'0 keys missing, 12 unexpected \(e.g. '
                       r'layers\.2\.ln1\.weight, .*likely cause: depth 3 in '
                       r'the checkpoint vs 2 in the model \(layers\)$'):
        DINOFeatureTarget(deep, arch=DINO_ARCH, img_size=TINY_IMG,
                          patch_size=TINY_PATCH)
    # a CLIP file given to the DINO target
    clip = write_clip(tmp_path / 'clip.pth')
    with pytest.raises(CheckpointError,
                       match=r'30 keys missing \(e.g. cls_token, pos_embed'):
        DINOFeatureTarget(clip, arch=DINO_ARCH, img_size=TINY_IMG,
                          patch_size=TINY_PATCH)


@pytest.mark.parametrize('kind', ['clip', 'dino'])
def test_missing_target_checkpoint_stops_before_training(kind):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'pretrain', f'hpm_vit-b_{kind}-target.py'))
    with pytest.raises(FileNotFoundError) as err:
        check_checkpoint_paths(cfg)
    assert str(err.value).startswith(
        'model.target_generator.checkpoint does not exist: '
        f'checkpoints/{kind}_vit-base-p16.pth')


@pytest.mark.parametrize('kind', ['clip', 'dino', 'ema'])
def test_runner_trains_with_feature_target(kind, tiny_imagenet, tmp_path):
    from .test_runner import tiny_cfg
    cfg = tiny_cfg(tiny_imagenet, str(tmp_path / 'work'), max_epochs=2)
    cfg.train_dataloader.batch_size = 8  # one iteration per epoch
    base = Config.fromfile(
        osp.join(ROOT, 'configs', 'pretrain', f'hpm_vit-b_{kind}-target.py'))
    cfg.model.target_generator = base.model.target_generator
    cfg.model.head = base.model.head
    shrink_feature_target(cfg.model, tmp_path)
    width = dict(clip=12, dino=24, ema=32)[kind]
    check_checkpoint_paths(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_rec', 'train/loss_pred', 'train/rank_acc'):
        assert key in scalars, key
    # normalised distance: 0 <= l <= 4
    assert 0 < scalars['train/loss_rec'].current() <= 4
    assert runner.model.neck.decoder_pred.out_features == width
    ckpt = load_ckpt(osp.join(tmp_path, 'work', 'epoch_2.pth'))
    assert not any(k.startswith('target_generator.')
                   for k in ckpt['state_dict'])


class _OpenAICLIP(torch.nn.Module):
    """Stand-in for OpenAI's CLIP module: ``visual`` plus a text part."""

    def __init__(self, visual):
        super().__init__()
        self.visual = visual
        self.text_projection = torch.nn.Parameter(torch.randn(12, 8))

    def forward(self, x):
        return self.visual(x)[0] @ self.text_projection


@pytest.mark.filterwarnings('ignore::FutureWarning',
                            'ignore::torch.jit.TracerWarning')
def test_convert_openai_torchscript_clip(tmp_path, capsys):
    """OpenAI's TorchScript file -> a file CLIPFeatureTarget loads."""
    from tools.convert_checkpoint import main
    net = tiny_clip(seed=3)
    x = torch.randn(1, 3, TINY_IMG, TINY_IMG)
    scripted = torch.jit.trace(_OpenAICLIP(net), x, check_trace=False)
    src = str(tmp_path / 'ViT-tiny.pt')
    torch.jit.save(scripted, src)
    # read with torch.jit.load, never as a pickle; the tools' pre-flight
    # check lets it through
    check_checkpoint(src)
    assert torch.equal(CLIPFeatureTarget(src, arch=CLIP_ARCH)(x),
                       net(x)[0][:, 1:])
    dst = str(tmp_path / 'clip_target.pth')
    assert main([src, dst, '--to', 'clip-target']) == 0
    out = capsys.readouterr().out
    assert 'format openai-torchscript' in out
    assert '1 non-visual (text tower) tensors left out' in out
    assert f'arch: {dict(CLIP_ARCH, heads=1)}' in out  # heads = width / 64
    target = CLIPFeatureTarget(dst, arch=CLIP_ARCH)
    assert torch.equal(target(x), net(x)[0][:, 1:])
    # a plain whole-model state dict converts too; a DINO file does not
    assert main([write_clip(tmp_path / 'full.pth'), dst, '--to',
                 'clip-target']) == 0
    assert main([write_dino(tmp_path / 'd.pth'), dst, '--to',
                 'clip-target']) == 1
    assert 'not a CLIP ViT checkpoint' in capsys.readouterr().err


def test_inferencer_follows_easy_mining_and_refuses_feature_recon(
        tmp_path):
    import numpy as np

    from hpm_mm.apis import HardPatchInferencer
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (TINY_IMG, TINY_IMG, 3), dtype=np.uint8)
            for _ in range(2)]
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5, mine='easy'))
    for r in HardPatchInferencer(model)(imgs, alpha=0.5):
        lowest = np.argsort(r.scores.ravel())[:6]  # int(12 * 0.5) mined
        assert r.hard.sum() == 6 and r.hard.ravel()[lowest].all()
        assert r.masked.ravel()[lowest].all()
    feature = HardPatchInferencer(build_feature_hpm('ema', tmp_path))
    with pytest.raises(ValueError, match='reconstructs features'):
        feature(imgs)
    r = feature(imgs, return_recon=False)[0]
    assert r.recon is None and r.masked.sum() == 12
