"""Video checkpoints: ``--to mmaction`` for mmaction2's VisionTransformer
(loaded strictly, same features as our encoder), and the reference VideoMAE's
released layout to ours and back."""
import re

import pytest
import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import VisionTransformer
from mmengine.config import Config
from mmpretrain.registry import MODELS

from hpm_mm.converters import (VIDEOMAE, CheckpointError, convert_encoder,
                               read_checkpoint, take_prefix)

from ..downstream.helpers import convert, load_tool, save_hpm_checkpoint
from .tiny_video import (FRAMES, HEADS, IMG, PATCH, PRETRAIN_CONFIGS,
                         TUBELET, WIDTH, tiny_pretrain_model)


def _config(algorithm: str) -> Config:
    (path, ) = [p for p in PRETRAIN_CONFIGS
                if p.endswith('_k400-16x4.py') and algorithm in p]
    return Config.fromfile(path)


def build_tiny(algorithm: str = 'videomae', seed: int = 0, **overrides):
    """The tiny model of a K400 pre-training config, initialised; with
    ``overrides`` merged into its backbone and neck."""
    cfg = _config(algorithm)
    model = tiny_pretrain_model()
    for part, args in overrides.items():
        model[part].update(args)
    cfg.merge_from_dict(dict(model=model))
    torch.manual_seed(seed)
    net = MODELS.build(cfg.model)
    net.init_weights()
    return net.eval()


def mmaction_vit(**kwargs) -> VisionTransformer:
    """mmaction2's VisionTransformer as its fine-tuning configs build it
    (mean pooling: fc_norm, no final norm), at the tiny size."""
    args = dict(img_size=IMG, patch_size=PATCH, embed_dims=WIDTH, depth=2,
                num_heads=HEADS, num_frames=FRAMES, tubelet_size=TUBELET,
                use_mean_pooling=True)
    return VisionTransformer(**dict(args, **kwargs)).eval()


def reference_names(enc_depth: int, dec_depth: int) -> set:
    """The keys of the reference's ``PretrainVisionTransformer`` (its
    modeling_pretrain.py: timm blocks with q/v biases, no stored position
    tables, no cls token), restated by hand."""
    block = ['norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.q_bias',
             'attn.v_bias', 'attn.proj.weight', 'attn.proj.bias',
             'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias',
             'mlp.fc2.weight', 'mlp.fc2.bias']
    return {'encoder.patch_embed.proj.weight', 'encoder.patch_embed.proj.bias',
            'encoder.norm.weight', 'encoder.norm.bias',
            'encoder_to_decoder.weight', 'mask_token', 'decoder.norm.weight',
            'decoder.norm.bias', 'decoder.head.weight', 'decoder.head.bias',
            *(f'encoder.blocks.{i}.{k}' for i in range(enc_depth)
              for k in block),
            *(f'decoder.blocks.{i}.{k}' for i in range(dec_depth)
              for k in block)}


@pytest.mark.parametrize('algorithm,source',
                         [('videomae', 'student'), ('hpm', 'teacher')])
def test_to_mmaction_loads_strictly_and_gives_our_features(
        tmp_path, algorithm, source):
    model = build_tiny(algorithm)
    if algorithm == 'hpm':  # a teacher that differs from the student
        with torch.no_grad():
            for t in model.teacher.module.state_dict().values():
                if t.is_floating_point():
                    t.add_(0.05 * torch.randn_like(t))
    src = save_hpm_checkpoint(model, str(tmp_path / 'pre.pth'))
    out = convert(src, str(tmp_path / 'mma.pth'), 'mmaction', '--source',
                  source)
    state = read_checkpoint(out)['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    vit = mmaction_vit()
    vit.load_state_dict(take_prefix(state, 'backbone.'), strict=True)
    assert torch.equal(vit.fc_norm.weight, torch.ones(WIDTH))
    assert torch.equal(vit.fc_norm.bias, torch.zeros(WIDTH))
    encoder = (model.teacher.module.backbone
               if source == 'teacher' else model.backbone)
    assert torch.equal(vit.blocks[1].attn.v_bias,
                       encoder.blocks[1].attn.v_bias)

    torch.manual_seed(1)
    clip = torch.randn(2, 3, FRAMES, IMG, IMG)
    with torch.no_grad():
        ours = encoder(clip, None)[0]  # (B, N, C) after the final norm
        vit.return_feat_map = True  # the tokens before any norm
        tokens = vit(clip).permute(0, 2, 3, 4, 1).flatten(1, 3)
        vit.return_feat_map = False
        pooled = vit(clip)  # fc_norm of the mean token
    torch.testing.assert_close(encoder.norm(tokens), ours)
    torch.testing.assert_close(
        pooled, F.layer_norm(tokens.mean(1), (WIDTH, ), eps=1e-6))


def test_reference_layout_round_trip_and_to_mmaction(tmp_path):
    """The reference's file ({'model': ...}, its names) -> ours -> its
    layout again: the same tensors; ours loads strictly into VideoMAE with
    the position tables it does not store; and it converts --to mmaction as
    our checkpoint of the same weights does. (The reference's models take
    16 frames of 224 px, which the converter assumes for its file.)"""
    big = dict(backbone=dict(img_size=224, num_frames=16, depth=1),
               neck=dict(num_patches=8 * 14 * 14))
    ours = build_tiny(**big)
    mine = save_hpm_checkpoint(ours, str(tmp_path / 'ours.pth'))
    ref = convert(mine, str(tmp_path / 'reference.pth'), 'released')
    obj = read_checkpoint(ref)
    assert set(obj) == {'model', 'meta'}
    assert set(obj['model']) == reference_names(1, 1)
    assert torch.equal(obj['model']['encoder.blocks.0.mlp.fc1.weight'],
                       ours.backbone.blocks[0].mlp.layers[0][0].weight)

    # the reference's own files come with DDP's `module.` at times
    torch.save({'model': {'module.' + k: v for k, v in obj['model'].items()},
                'epoch': 799}, str(tmp_path / 'released.pth'))
    back = convert(str(tmp_path / 'released.pth'), str(tmp_path / 'back.pth'),
                   'hpm')
    state = read_checkpoint(back)['state_dict']
    restored = build_tiny(seed=1, **big)
    restored.load_state_dict(state, strict=True)
    for key, val in ours.state_dict().items():
        assert torch.equal(restored.state_dict()[key], val), key
    again = read_checkpoint(convert(back, str(tmp_path / 'again.pth'),
                                    'released'))['model']
    assert again.keys() == obj['model'].keys()
    assert all(torch.equal(again[k], v) for k, v in obj['model'].items())

    mma_ref = read_checkpoint(convert(
        str(tmp_path / 'released.pth'), str(tmp_path / 'a.pth'),
        'mmaction'))['state_dict']
    mma_ours = read_checkpoint(convert(mine, str(tmp_path / 'b.pth'),
                                       'mmaction'))['state_dict']
    assert mma_ref.keys() == mma_ours.keys()
    assert all(torch.equal(mma_ref[k], v) for k, v in mma_ours.items())
    mmaction_vit(img_size=224, num_frames=16, depth=1).load_state_dict(
        take_prefix(mma_ref, 'backbone.'), strict=True)


def test_image_and_video_targets_refuse_each_other(tmp_path, capsys):
    model = build_tiny()
    video = save_hpm_checkpoint(model, str(tmp_path / 'video.pth'))
    # the encoder under a prefix of one's choice (--prefix) converts too
    torch.save({f'student.enc.{k}': v
                for k, v in model.backbone.state_dict().items()},
               str(tmp_path / 'other.pth'))
    state = read_checkpoint(convert(str(tmp_path / 'other.pth'),
                                    str(tmp_path / 'mma.pth'), 'mmaction',
                                    '--prefix', 'student.enc.'))['state_dict']
    mmaction_vit().load_state_dict(take_prefix(state, 'backbone.'))
    with pytest.raises(CheckpointError, match="--to mmpretrain takes an "
                       "image encoder, got the 'video' format"):
        convert_encoder(read_checkpoint(video), 'mmpretrain')
    image = {'state_dict': {  # an mmpretrain ViT's patch embedding
        'backbone.patch_embed.projection.weight': torch.zeros(8, 3, 4, 4),
        'backbone.pos_embed': torch.zeros(1, 5, 8)}}
    torch.save(image, str(tmp_path / 'image.pth'))
    rc = load_tool().main([str(tmp_path / 'image.pth'),
                           str(tmp_path / 'out.pth'), '--to', 'mmaction'])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert re.fullmatch(r"convert_checkpoint: error: --to mmaction takes a "
                        r"video encoder, got the 'mmpretrain' format", err)


def test_key_map_covers_videomae_both_ways():
    """The converter's VIDEOMAE map renames the reference's names both
    ways and covers every weight of VideoMAE but the position table."""
    names = reference_names(2, 1)
    ours = {VIDEOMAE.right(k) for k in names}
    assert {VIDEOMAE.left(k) for k in ours} == names
    model = build_tiny()
    assert set(model.state_dict()) - ours == {'backbone.pos_embed'}
