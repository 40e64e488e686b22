"""Export: --to timm (a timm ViT encoder) and --to released (the authors'
layout, the inverse of --to hpm). timm is a test-only dependency."""
import pytest
import timm
import torch
from timm.models.vision_transformer import VisionTransformer as TimmViT

from hpm_mm.converters import read_checkpoint
from hpm_mm.testing import ARCH, IMG, PATCH

from .helpers import convert, load_tool


def _timm_tiny() -> TimmViT:
    """timm's ViT with the tiny HPMViT's settings (qkv bias, LN eps 1e-6,
    cls token, final norm), no head."""
    return TimmViT(
        img_size=IMG,
        patch_size=PATCH,
        embed_dim=ARCH['embed_dims'],
        depth=ARCH['num_layers'],
        num_heads=ARCH['num_heads'],
        mlp_ratio=ARCH['feedforward_channels'] / ARCH['embed_dims'],
        qkv_bias=True,
        class_token=True,
        global_pool='token',
        num_classes=0).eval()


@pytest.mark.parametrize('source', ['student', 'teacher'])
def test_timm_export_gives_the_encoder_features(tmp_path, hpm_model,
                                                hpm_ckpt, source):
    out = convert(hpm_ckpt, str(tmp_path / 'timm.pth'), 'timm', '--source',
                  source)
    state = torch.load(out, weights_only=True)['state_dict']
    vit = _timm_tiny()
    vit.load_state_dict(state, strict=True)  # no missing, no unexpected key

    encoder = (hpm_model.teacher.module.backbone
               if source == 'teacher' else hpm_model.backbone)
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        want = encoder(x, mask=None)[-1]  # (B, 1 + L, C), final norm
        got = vit.forward_features(x)
        pooled = vit(x)  # num_classes=0: the cls token
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(pooled, want[:, 0], atol=1e-5, rtol=0)


def test_timm_create_model_loads_a_vit_b_export(tmp_path):
    """The documented call: timm.create_model('vit_base_patch16_224',
    pretrained=True, pretrained_cfg_overlay=dict(file=...), num_classes=0).

    timm loads that non-strictly (its head is dropped), so every key of the
    model is checked to come from the file.
    """
    from hpm_mm.models import HPMViT
    torch.manual_seed(0)
    encoder = HPMViT(arch='b', img_size=224, patch_size=16)
    src = tmp_path / 'hpm_vit-b_encoder.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in encoder.state_dict().items()}},
               src)
    out = convert(str(src), str(tmp_path / 'vit-b_timm.pth'), 'timm')

    model = timm.create_model(
        'vit_base_patch16_224',
        pretrained=True,
        pretrained_cfg_overlay=dict(file=out),
        num_classes=0)
    exported = torch.load(out, weights_only=True)['state_dict']
    loaded = model.state_dict()
    assert set(loaded) == set(exported)
    for key, val in loaded.items():
        assert torch.equal(val, exported[key]), key


def test_released_round_trip_is_bit_exact(tmp_path, released_ckpt):
    hpm = convert(released_ckpt, str(tmp_path / 'hpm.pth'), 'hpm')
    back = convert(hpm, str(tmp_path / 'released.pth'), 'released')

    original = read_checkpoint(released_ckpt)
    result = torch.load(back, weights_only=True)
    for key in ('state_dict', 'ema_state_dict'):
        want = {k[len('module.'):]: v for k, v in original[key].items()}
        got = result[key]
        assert set(got) == set(want), key
        for name, val in want.items():
            assert got[name].dtype == val.dtype, name
            assert torch.equal(got[name], val), name
    assert result['meta']['hpm_mm_converter']['target'] == 'released'


def test_to_released_bad_inputs(tmp_path, released_ckpt, hpm_ckpt, capsys):
    tool = load_tool()
    dst = str(tmp_path / 'out.pth')
    assert tool.main([released_ckpt, dst, '--to', 'released']) == 1
    assert "expected an hpm_mm pretraining checkpoint" in \
        capsys.readouterr().err
    assert tool.main([hpm_ckpt, dst, '--to', 'released', '--source',
                      'teacher']) == 1
    assert '--source does not apply' in capsys.readouterr().err
    student_only = {
        k: v for k, v in read_checkpoint(hpm_ckpt)
        ['state_dict'].items() if not k.startswith('teacher.')
    }
    src = tmp_path / 'student_only.pth'
    torch.save({'state_dict': student_only}, src)
    assert tool.main([str(src), dst, '--to', 'released']) == 1
    assert 'no teacher' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()


def test_timm_export_refuses_an_incomplete_encoder(tmp_path, hpm_ckpt,
                                                   capsys):
    state = read_checkpoint(hpm_ckpt)['state_dict']
    enc = {k: v for k, v in state.items()
           if k.startswith('backbone.') and not k.startswith('backbone.ln1')}
    src = tmp_path / 'no_norm.pth'
    torch.save({'state_dict': enc}, src)
    rc = load_tool().main([str(src), str(tmp_path / 't.pth'), '--to',
                           'timm'])
    assert rc == 1
    err = capsys.readouterr().err
    assert "does not fit timm's VisionTransformer (loaded with strict" in err
    assert 'norm.weight' in err
    assert not (tmp_path / 't.pth').exists()


def test_to_released_refuses_an_incomplete_hpm_checkpoint(tmp_path, hpm_ckpt,
                                                          capsys):
    state = read_checkpoint(hpm_ckpt)['state_dict']
    del state['neck.decoder_pred_losspred.bias']
    del state['teacher.module.neck.decoder_pred_losspred.bias']
    src = tmp_path / 'partial.pth'
    torch.save({'state_dict': state}, src)
    assert load_tool().main([str(src), str(tmp_path / 'r.pth'), '--to',
                             'released']) == 1
    err = capsys.readouterr().err
    assert "does not fit the authors' HPM" in err
    assert '1 keys missing (e.g. decoder_pred_losspred.bias)' in err
    assert not (tmp_path / 'r.pth').exists()
