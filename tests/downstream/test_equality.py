"""Converted backbones compute the pretraining encoder's patch features.

On random weights, each downstream backbone loaded from the tiny HPM
checkpoint (directly, and through the converter) must reproduce the
features of the pretraining encoder ``HPMViT(x, mask=None)`` to 1e-5
wherever the networks coincide: every block global, no relative
positions, layer scale 1. ViTDet drops the cls token, so its reference is
the same encoder (same modules, same weights) run on the patch tokens
alone.
"""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS as DET_MODELS
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

from hpm_mm.testing import ARCH, GRID, IMG, PATCH

from ..conftest import outside_a_runner
from .helpers import convert

ATOL = 1e-5


@pytest.fixture(scope='module')
def reference(hpm_model):
    """Per-block patch tokens (B, C, h, w) and the final normed tokens."""
    torch.manual_seed(7)
    x = torch.randn(2, 3, IMG, IMG)
    blocks = []
    hooks = [
        layer.register_forward_hook(lambda m, i, o: blocks.append(o))
        for layer in hpm_model.backbone.layers
    ]
    with torch.no_grad():
        raw = hpm_model.backbone(x, mask=None)[0]
    for h in hooks:
        h.remove()

    def grid(tokens, skip=1):
        return tokens[:, skip:].transpose(1, 2).reshape(2, -1, GRID, GRID)

    # The encoder's own modules on the patch tokens only (no cls token).
    enc, no_cls = hpm_model.backbone, []
    with torch.no_grad():
        t = enc.patch_embed(x)[0] + enc.pos_embed[:, 1:]
        for layer in enc.layers:
            t = layer(t)
            no_cls.append(grid(t, skip=0))
    return dict(
        x=x,
        blocks=[grid(b) for b in blocks],
        blocks_no_cls=no_cls,
        final=grid(raw),
        cls=raw[:, 0],
        norm=hpm_model.backbone.ln1)


def _close(a, b):
    assert a.shape == b.shape
    assert torch.allclose(a, b, atol=ATOL, rtol=0), (a - b).abs().max()


@pytest.mark.parametrize('via', ['hpm', 'converted'])
def test_mmpretrain_vit(reference, hpm_ckpt, tmp_path, via):
    ckpt = hpm_ckpt if via == 'hpm' else convert(
        hpm_ckpt, str(tmp_path / 'cls.pth'), 'mmpretrain')
    vit = CLS_MODELS.build(
        dict(
            type='VisionTransformer',
            arch=ARCH,
            img_size=IMG,
            patch_size=PATCH,
            out_indices=list(range(ARCH['num_layers'])),
            out_type='featmap',
            final_norm=True,
            init_cfg=dict(
                type='Pretrained', checkpoint=ckpt, prefix='backbone.')))
    with outside_a_runner():  # mmpretrain's own Pretrained init
        vit.init_weights()
    vit.eval()
    with torch.no_grad():
        outs = vit(reference['x'])
    for got, want in zip(outs[:-1], reference['blocks'][:-1]):
        _close(got, want)
    _close(outs[-1], reference['final'])


def _vitdet(ckpt, **kwargs):
    cfg = dict(
        type='ViTDet',
        arch=ARCH,
        img_size=IMG,
        pretrain_img_size=IMG,
        patch_size=PATCH,
        window_size=0,
        use_rel_pos=False,
        drop_path_rate=0.0,
        out_indices=list(range(ARCH['num_layers'])),
        init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    cfg.update(kwargs)
    model = DET_MODELS.build(cfg)
    model.init_weights()
    model.eval()
    return model


@pytest.mark.parametrize('via', ['hpm', 'released', 'converted'])
def test_mmdet_vitdet_global(reference, hpm_ckpt, released_ckpt, tmp_path,
                             via):
    ckpt = dict(
        hpm=hpm_ckpt,
        released=released_ckpt,
        converted=convert(hpm_ckpt, str(tmp_path / 'det.pth'),
                          'mmdet'))[via]
    with torch.no_grad():
        outs = _vitdet(ckpt)(reference['x'])
        last = reference['norm'](outs[-1].permute(0, 2, 3, 1))
    for got, want in zip(outs, reference['blocks_no_cls']):
        _close(got, want)
    # ViTDet has no final norm: the encoder's, applied on top, matches.
    want = reference['norm'](
        reference['blocks_no_cls'][-1].permute(0, 2, 3, 1))
    _close(last, want)


def test_mmdet_vitdet_windows_and_relative_positions(reference, hpm_ckpt):
    """One window covering the grid with zero relative positions is still
    global attention; smaller windows change the features."""
    with torch.no_grad():
        whole = _vitdet(hpm_ckpt, window_size=GRID, use_rel_pos=True,
                        global_attn_indexes=(1, ))(reference['x'])
        split = _vitdet(hpm_ckpt, window_size=2, use_rel_pos=True,
                        global_attn_indexes=(1, ))(reference['x'])
    _close(whole[-1], reference['blocks_no_cls'][-1])
    assert not torch.allclose(
        split[-1], reference['blocks_no_cls'][-1], atol=1e-3)


@pytest.mark.parametrize('pretrain', [1, 2])
def test_mmdet_vitdet_interpolates_abs_pos(hpm_model, hpm_ckpt, pretrain):
    """At twice the pretraining size, the 4x4 position grid is resized
    bicubically (align_corners=False) to 8x8, as ViTDet does from 14x14 to
    64x64; the parameter itself stays on the pretraining grid, to which a
    checkpoint of another grid is resized when loaded."""
    big, C = 2 * IMG, ARCH['embed_dims']
    torch.manual_seed(3)
    x = torch.randn(1, 3, big, big)
    enc = hpm_model.backbone
    with torch.no_grad():
        pos = enc.pos_embed[:, 1:].reshape(1, GRID, GRID, C)
        pos = F.interpolate(
            pos.permute(0, 3, 1, 2),
            size=(2 * GRID, 2 * GRID),
            mode='bicubic',
            align_corners=False).permute(0, 2, 3, 1).reshape(1, -1, C)
        tokens = enc.patch_embed(x)[0] + pos
        for layer in enc.layers:
            tokens = layer(tokens)
        want = tokens.transpose(1, 2).reshape(1, C, 2 * GRID, 2 * GRID)
        det = _vitdet(hpm_ckpt, img_size=big, out_indices=-1,
                      pretrain_img_size=pretrain * IMG)
        got = det(x)[-1]
    assert det.pos_embed.shape == (1, pretrain * GRID, pretrain * GRID, C)
    _close(got, want)


def test_mmdet_vitdet_drops_both_residual_branches(hpm_ckpt):
    """ViTDet's stochastic depth drops the attention branch too (SAM's
    layer only the MLP one): a block whose paths all drop is the
    identity."""
    block = _vitdet(hpm_ckpt, drop_path_rate=0.9999).layers[-1].train()
    torch.manual_seed(0)
    x = torch.randn(2, GRID, GRID, ARCH['embed_dims'])
    assert torch.equal(block(x), x)


@pytest.mark.parametrize('via', ['hpm', 'converted'])
def test_mmseg_mae(reference, hpm_ckpt, tmp_path, via):
    ckpt = hpm_ckpt if via == 'hpm' else convert(
        hpm_ckpt, str(tmp_path / 'seg.pth'), 'mmseg')

    def build(final_norm):
        model = SEG_MODELS.build(
            dict(
                type='CheckedMAE',
                img_size=IMG,
                patch_size=PATCH,
                embed_dims=ARCH['embed_dims'],
                num_layers=ARCH['num_layers'],
                num_heads=ARCH['num_heads'],
                mlp_ratio=ARCH['feedforward_channels'] // ARCH['embed_dims'],
                out_indices=list(range(ARCH['num_layers'])),
                norm_cfg=dict(type='LN', eps=1e-6),
                init_values=1.0,
                final_norm=final_norm,
                init_cfg=dict(type='Pretrained', checkpoint=ckpt)))
        model.init_weights()
        model.eval()  # mmseg's train() returns None
        return model

    with torch.no_grad():
        plain = build(final_norm=False)(reference['x'])
        normed = build(final_norm=True)(reference['x'])
    for got, want in zip(plain, reference['blocks']):
        _close(got, want)
    _close(normed[-1], reference['final'])


def test_stock_mmseg_mae_silently_loads_nothing(reference, hpm_ckpt):
    """The trap CheckedMAE avoids: mmseg's MAE ignores the HPM weights."""
    model = SEG_MODELS.build(
        dict(
            type='MAE',
            img_size=IMG,
            patch_size=PATCH,
            embed_dims=ARCH['embed_dims'],
            num_layers=ARCH['num_layers'],
            num_heads=ARCH['num_heads'],
            mlp_ratio=2,
            out_indices=[0],
            init_values=1.0,
            init_cfg=dict(type='Pretrained', checkpoint=hpm_ckpt)))
    with outside_a_runner():  # mmseg's own Pretrained init
        model.init_weights()
    model.eval()
    with torch.no_grad():
        out = model(reference['x'])[0]
    assert not torch.allclose(out, reference['blocks'][0], atol=1e-2)
