"""Checkpoint conversion: released -> hpm_mm round trip, CLI, bad inputs."""
import os

import pytest
import torch

from hpm_mm.converters import (STUDENT, CheckpointError, convert_encoder,
                               detect_format, read_checkpoint,
                               released_to_hpm, summarize_keys)

from ..conftest import build_tiny_hpm
from .helpers import (convert, load_tool, released_checkpoint,
                      timm_state)


def _losses(model, imgs):
    torch.manual_seed(123)
    return {k: v.detach() for k, v in model.loss(imgs, None).items()}


@pytest.mark.parametrize('alpha', [0.0, 0.5])
def test_released_checkpoint_gives_identical_hpm_losses(tmp_path, alpha):
    """Released (timm names, module.) -> hpm: same weights, same losses.

    With alpha 0.5 half the masked patches are the teacher's top-scored
    ones, so the converted teacher is exercised too.
    """
    original = build_tiny_hpm(seed=0, distinct_teacher=True,
                              masker=dict(fixed_alpha=alpha))
    src = tmp_path / 'released.pth'
    torch.save(released_checkpoint(original), src)
    out = convert(str(src), str(tmp_path / 'hpm.pth'), 'hpm')

    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    assert ckpt['meta']['hpm_mm_converter']['epoch'] == 799
    restored = build_tiny_hpm(seed=1, distinct_teacher=True,
                              masker=dict(fixed_alpha=alpha))
    restored.load_state_dict(ckpt['state_dict'], strict=True)
    for key, val in original.state_dict().items():
        assert torch.equal(val, restored.state_dict()[key]), key

    imgs = torch.randn(2, 3, 64, 64)
    want, got = _losses(original, imgs), _losses(restored, imgs)
    assert set(want) == {'loss_rec', 'loss_pred', 'rank_acc', 'alpha'}
    for key in want:
        assert torch.equal(want[key], got[key]), key
    assert want['alpha'].item() == alpha


def test_source_teacher_puts_the_ema_weights_in_the_student(tmp_path):
    original = build_tiny_hpm(distinct_teacher=True)
    src = tmp_path / 'released.pth'
    torch.save(released_checkpoint(original), src)
    out = convert(str(src), str(tmp_path / 'hpm.pth'), 'hpm', '--source',
                  'teacher')
    state = torch.load(out, weights_only=True)['state_dict']
    teacher = original.teacher.module.state_dict()
    for key, val in teacher.items():
        assert torch.equal(state[key], val), key
        assert torch.equal(state['teacher.module.' + key], val), key
    assert not torch.equal(state['backbone.layers.0.attn.qkv.weight'],
                           original.backbone.layers[0].attn.qkv.weight)


def test_without_ema_the_teacher_copies_the_student(capsys):
    original = build_tiny_hpm(distinct_teacher=True)
    conv = released_to_hpm(released_checkpoint(original, with_ema=False))
    assert 'no ema_state_dict' in ' '.join(conv.notes)
    for key, val in original.student_modules().state_dict().items():
        assert torch.equal(conv.state[key], val)
        assert torch.equal(conv.state['teacher.module.' + key], val)
    with pytest.raises(CheckpointError, match="source='teacher' needs"):
        released_to_hpm(
            released_checkpoint(original, with_ema=False), 'teacher')


def test_key_maps_are_inverse_and_cover_the_model(hpm_model):
    student = hpm_model.student_modules().state_dict()
    for key in student:
        full = key  # 'backbone.*' / 'neck.*'
        timm = STUDENT.left(full)
        assert timm is not None, key
        assert STUDENT.right(timm) == full
    names = set(timm_state(hpm_model.backbone, hpm_model.neck))
    assert {STUDENT.left(k) for k in student} == names


def test_detect_formats(hpm_model, hpm_ckpt, released_ckpt, tmp_path):
    assert detect_format(
        released_checkpoint(hpm_model, prefix='')['state_dict']) == 'released'
    assert detect_format(read_checkpoint(hpm_ckpt)['state_dict']) == 'hpm'
    outs = {}
    for to in ('mmpretrain', 'mmdet', 'mmseg'):
        outs[to] = convert(hpm_ckpt, str(tmp_path / f'{to}.pth'), to)
    fmt = {
        to: detect_format(read_checkpoint(p)['state_dict'])
        for to, p in outs.items()
    }
    assert fmt == dict(mmpretrain='mmpretrain', mmdet='mmdet', mmseg='vit')


def test_downstream_names_and_shapes(hpm_ckpt, released_ckpt):
    obj = read_checkpoint(hpm_ckpt)
    det = convert_encoder(obj, 'mmdet').state
    assert det['pos_embed'].shape == (1, 4, 4, 32)
    pos = obj['state_dict']['backbone.pos_embed']
    assert torch.equal(det['pos_embed'].reshape(1, 16, 32), pos[:, 1:])
    assert 'cls_token' not in det and 'ln1.weight' not in det
    seg = convert_encoder(obj, 'mmseg').state
    assert torch.equal(seg['layers.3.ffn.layers.1.weight'],
                       obj['state_dict']['backbone.layers.3.ffn.layers.1.'
                                         'weight'])
    # the released file gives the same encoder as the hpm one
    rel = convert_encoder(read_checkpoint(released_ckpt), 'mmseg').state
    assert rel.keys() == seg.keys()
    assert all(torch.equal(rel[k], seg[k]) for k in seg)
    teacher = convert_encoder(obj, 'mmseg', source='teacher').state
    assert torch.equal(
        teacher['layers.0.attn.qkv.weight'],
        obj['state_dict']['teacher.module.backbone.layers.0.attn.qkv.weight'])


def test_cli_reports_missing_and_unexpected(hpm_ckpt, tmp_path, capsys):
    convert(hpm_ckpt, str(tmp_path / 'seg.pth'), 'mmseg')
    out = capsys.readouterr().out
    assert 'format hpm' in out
    assert ('missing for the mmseg model (left at init): layers.*.gamma_1 '
            '(x4)') in out
    assert 'unexpected for the mmseg model (ignored): ln1.weight' in out
    convert(hpm_ckpt, str(tmp_path / 'det.pth'), 'mmdet')
    out = capsys.readouterr().out
    assert 'layers.*.attn.rel_pos_h (x4)' in out
    assert 'input keys not converted: cls_token, ln1.weight' in out
    assert 'wrote 51 tensors' in out


def test_help_describes_formats(capsys):
    with pytest.raises(SystemExit) as exc:
        load_tool().main(['--help'])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in ('released', 'ema_state_dict', '--source', 'mmdet', 'mmseg',
                 'weights_only=True'):
        assert word in text


def test_summarize_keys():
    keys = ['layers.0.a', 'layers.1.a', 'ln1.weight']
    assert summarize_keys(keys) == 'layers.*.a (x2), ln1.weight'
    assert summarize_keys([]) == ''


# --------------------------------------------------------------- errors --
def _cli_error(capsys, *argv) -> str:
    rc = load_tool().main(list(argv))
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('convert_checkpoint: error: ')
    assert '\n' not in err
    return err


def test_missing_file(tmp_path, capsys):
    with pytest.raises(CheckpointError, match='checkpoint not found'):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    err = _cli_error(capsys, str(tmp_path / 'nope.pth'),
                     str(tmp_path / 'o.pth'), '--to', 'hpm')
    assert 'nope.pth' in err


def test_unknown_format(tmp_path, capsys):
    path = tmp_path / 'resnet.pth'
    torch.save(dict(state_dict={'conv1.weight': torch.zeros(2, 3, 1, 1)}),
               path)
    with pytest.raises(CheckpointError, match='unknown checkpoint format'):
        convert_encoder(read_checkpoint(str(path)), 'mmdet')
    err = _cli_error(capsys, str(path), str(tmp_path / 'o.pth'), '--to',
                     'mmseg')
    assert 'unknown checkpoint format' in err and 'conv1.weight' in err
    torch.save([1, 2, 3], path)
    err = _cli_error(capsys, str(path), str(tmp_path / 'o.pth'), '--to',
                     'hpm')
    assert 'expected a dict' in err
    assert not os.path.exists(tmp_path / 'o.pth')


def test_not_a_weights_only_pickle(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, extra=torch.nn.Linear(1, 1)), path)
    with pytest.raises(CheckpointError,
                       match='holds torch.nn.modules.linear.Linear, which '
                       r'safe \(weights-only\) loading refuses'):
        read_checkpoint(str(path))


def test_shape_mismatch_names_the_key(hpm_model, tmp_path, capsys):
    ckpt = released_checkpoint(hpm_model)
    ckpt['state_dict']['module.blocks.2.mlp.fc1.weight'] = torch.zeros(8, 32)
    ckpt['ema_state_dict']['module.blocks.2.mlp.fc1.weight'] = torch.zeros(
        8, 32)
    src = tmp_path / 'bad.pth'
    torch.save(ckpt, src)
    dst = tmp_path / 'o.pth'
    err = _cli_error(capsys, str(src), str(dst), '--to', 'hpm')
    assert "does not fit hpm_mm's HPM" in err
    assert 'backbone.layers.2.ffn.layers.0.0.weight (8, 32)' in err
    err = _cli_error(capsys, str(src), str(dst), '--to', 'mmdet')
    assert 'layers.2.ffn.layers.0.0.weight (8, 32)' in err
    assert not dst.exists()
    assert os.listdir(tmp_path) == ['bad.pth']  # no temporary left


def test_student_teacher_disagree(hpm_model, tmp_path):
    ckpt = released_checkpoint(hpm_model)
    ckpt['ema_state_dict']['module.norm.weight'] = torch.ones(7)
    with pytest.raises(CheckpointError,
                       match='student and teacher .*ema_state_dict.* differ '
                       'in: backbone.ln1.weight'):
        released_to_hpm(ckpt)


def test_wrong_source_and_target(hpm_ckpt, tmp_path, capsys):
    path = convert(hpm_ckpt, str(tmp_path / 'cls.pth'), 'mmpretrain')
    with pytest.raises(CheckpointError, match="source='teacher' needs"):
        convert_encoder(read_checkpoint(path), 'mmseg', source='teacher')
    det = convert(hpm_ckpt, str(tmp_path / 'det.pth'), 'mmdet')
    with pytest.raises(CheckpointError, match='cannot be converted to mmseg'):
        convert_encoder(read_checkpoint(det), 'mmseg')
    err = _cli_error(capsys, hpm_ckpt, str(tmp_path / 'o.pth'), '--to',
                     'hpm')
    assert "expected the released (timm-name) format, got 'hpm'" in err
    err = _cli_error(capsys, hpm_ckpt, hpm_ckpt, '--to', 'mmseg')
    assert 'output path is the input path' in err
    with pytest.raises(CheckpointError, match="no ViT encoder under prefix"):
        convert_encoder(read_checkpoint(hpm_ckpt), 'mmseg', prefix='enc.')


def test_prefix_takes_the_encoder_under_it(hpm_ckpt, tmp_path):
    teacher = convert_encoder(read_checkpoint(hpm_ckpt), 'mmseg',
                              source='teacher').state
    out = convert(hpm_ckpt, str(tmp_path / 'p.pth'), 'mmseg', '--prefix',
                  'teacher.module.backbone.')
    got = read_checkpoint(out)['state_dict']
    assert got.keys() == teacher.keys()
    assert all(torch.equal(got[k], teacher[k]) for k in got)


def test_mae_baseline_checkpoint_gives_its_encoder(tmp_path):
    """configs/pretrain/mae_vit-b.py checkpoints (mmpretrain MAE) convert
    too; they have no teacher."""
    from mmpretrain.registry import MODELS

    from hpm_mm.testing import tiny_model_overrides
    tiny = tiny_model_overrides()
    mae = MODELS.build(
        dict(
            type='MAE',
            backbone=dict(tiny['backbone'], type='MAEViT'),
            neck=dict(tiny['neck'], type='MAEPretrainDecoder'),
            head=dict(
                tiny['head'],
                type='MAEPretrainHead',
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    path = str(tmp_path / 'mae.pth')
    torch.save(dict(state_dict=mae.state_dict()), path)
    out = convert(path, str(tmp_path / 'seg.pth'), 'mmseg')
    seg = read_checkpoint(out)['state_dict']
    assert torch.equal(seg['layers.2.attn.proj.weight'],
                       mae.backbone.layers[2].attn.proj.weight)
    with pytest.raises(CheckpointError, match="'hpm' checkpoint has no "
                       'teacher'):
        convert_encoder(read_checkpoint(path), 'mmseg', source='teacher')
