"""VideoMAE against a plain restatement of the reference's step.

The restatement below re-derives one VideoMAE pre-training step from the
reference's published facts alone, one clip, token and head at a time, on
weights under the reference's own key names: tubelet embedding by an
einsum, a fixed sin-cos table, pre-norm blocks with q and v biases, the
decoder's visible-then-masked order, the normalised pixel target and the
MSE. It shares no code with hpm_mm; a reference-named state dict goes into
both, into ours through the converter's ``VIDEOMAE`` key map. Everything runs in
float64 on perturbed weights, so that 1e-6 is far above rounding and
wiring mistakes show.
"""
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmpretrain.registry import MODELS

from hpm_mm.converters import VIDEOMAE
from hpm_mm.errors import ConfigError
from hpm_mm.video import (HardTubeMasker, TubeMasker, VideoMAEDecoder,
                          VideoMAEHead, VideoMAEViT, as_clips)

IMG, P, FRAMES, DT = 32, 16, 4, 2
ENC, ENC_DEPTH, ENC_HEADS = 32, 2, 2
DEC, DEC_DEPTH, DEC_HEADS = 16, 1, 2
GRID = (FRAMES // DT, IMG // P, IMG // P)  # (2, 2, 2)
HW = GRID[1] * GRID[2]
N = GRID[0] * HW  # 8 tokens
OUT = 3 * DT * P * P  # 1536 pixels per token
MEAN = (0.485, 0.456, 0.406)  # ImageNet, [0, 1] scale
STD = (0.229, 0.224, 0.225)
EPS = 1e-6
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def tiny_cfg(algorithm='VideoMAE', mask_ratio=0.5, **masker):
    """A tiny VideoMAE (or VideoHPM) config."""
    cfg = dict(
        type=algorithm,
        backbone=dict(
            type='VideoMAEViT', img_size=IMG, patch_size=P,
            embed_dims=ENC, depth=ENC_DEPTH, num_heads=ENC_HEADS,
            num_frames=FRAMES, tubelet_size=DT, mask_ratio=mask_ratio),
        neck=dict(
            type='VideoMAEDecoder', num_patches=N, embed_dim=ENC,
            decoder_embed_dim=DEC, decoder_depth=DEC_DEPTH,
            decoder_num_heads=DEC_HEADS, patch_size=P, tubelet_size=DT),
        head=dict(type='VideoMAEHead' if algorithm == 'VideoMAE' else
                  'HPMVideoHead', patch_size=P, tubelet_size=DT))
    if masker:
        cfg['masker'] = masker
    return cfg


def build(algorithm='VideoMAE', seed=0, **kwargs):
    torch.manual_seed(seed)
    model = MODELS.build(tiny_cfg(algorithm, **kwargs))
    model.init_weights()
    return model


# ------------------------------------------------- the reference's layout
def reference_shapes():
    """Names and shapes of the released checkpoint's ``'model'`` entry for
    the tiny sizes (the reference's module names)."""
    def block(prefix, width):
        return {
            f'{prefix}.norm1.weight': (width, ),
            f'{prefix}.norm1.bias': (width, ),
            f'{prefix}.attn.qkv.weight': (3 * width, width),
            f'{prefix}.attn.q_bias': (width, ),
            f'{prefix}.attn.v_bias': (width, ),
            f'{prefix}.attn.proj.weight': (width, width),
            f'{prefix}.attn.proj.bias': (width, ),
            f'{prefix}.norm2.weight': (width, ),
            f'{prefix}.norm2.bias': (width, ),
            f'{prefix}.mlp.fc1.weight': (4 * width, width),
            f'{prefix}.mlp.fc1.bias': (4 * width, ),
            f'{prefix}.mlp.fc2.weight': (width, 4 * width),
            f'{prefix}.mlp.fc2.bias': (width, ),
        }
    shapes = {
        'encoder.patch_embed.proj.weight': (ENC, 3, DT, P, P),
        'encoder.patch_embed.proj.bias': (ENC, ),
        'encoder.norm.weight': (ENC, ),
        'encoder.norm.bias': (ENC, ),
        'encoder_to_decoder.weight': (DEC, ENC),
        'mask_token': (1, 1, DEC),
        'decoder.norm.weight': (DEC, ),
        'decoder.norm.bias': (DEC, ),
        'decoder.head.weight': (OUT, DEC),
        'decoder.head.bias': (OUT, ),
    }
    for i in range(ENC_DEPTH):
        shapes.update(block(f'encoder.blocks.{i}', ENC))
    for i in range(DEC_DEPTH):
        shapes.update(block(f'decoder.blocks.{i}', DEC))
    return shapes


def reference_state(seed=1):
    """Random weights in the reference's names (non-trivial norms and
    biases), float64."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in reference_shapes().items():
        w = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name.endswith('norm1.weight') or name.endswith('norm2.weight') \
                or name.endswith('norm.weight'):
            w = 1 + 0.1 * w
        else:
            w = w * (0.3 if 'patch_embed' not in name else 0.05)
        state[name] = w
    return state


def load_reference(model, state):
    """Our model with the reference-named ``state`` (through the map)."""
    ours = {VIDEOMAE.right(k): v for k, v in state.items()}
    result = model.load_state_dict(ours, strict=False)
    return result


# ------------------------------------------------------- the restatement
def sincos(n, width):
    """Row i: sin of i / 10000**(2k / width) at dim 2k, cos at 2k + 1."""
    table = torch.zeros(n, width, dtype=torch.float64)
    for i in range(n):
        for j in range(width):
            angle = i / 10000**(2 * (j // 2) / width)
            table[i, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


def layer_norm(x, w, name):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean)**2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS) * w[f'{name}.weight'] + \
        w[f'{name}.bias']


def block(x, w, name, heads):
    """Pre-norm block on one clip's tokens (L, D)."""
    width = x.shape[-1]
    hd = width // heads
    bias = torch.cat([w[f'{name}.attn.q_bias'],
                      torch.zeros(width, dtype=x.dtype),
                      w[f'{name}.attn.v_bias']])
    qkv = layer_norm(x, w, f'{name}.norm1') @ w[f'{name}.attn.qkv.weight'].T
    q, k, v = (qkv + bias).split(width, dim=-1)
    out = []
    for h in range(heads):
        cols = slice(h * hd, (h + 1) * hd)
        att = torch.softmax(q[:, cols] @ k[:, cols].T / math.sqrt(hd), -1)
        out.append(att @ v[:, cols])
    x = x + torch.cat(out, -1) @ w[f'{name}.attn.proj.weight'].T + \
        w[f'{name}.attn.proj.bias']
    hid = layer_norm(x, w, f'{name}.norm2') @ w[f'{name}.mlp.fc1.weight'].T \
        + w[f'{name}.mlp.fc1.bias']
    hid = 0.5 * hid * (1 + torch.erf(hid / math.sqrt(2)))  # exact GELU
    return x + hid @ w[f'{name}.mlp.fc2.weight'].T + w[f'{name}.mlp.fc2.bias']


def tubelet(clip, n):
    """Token n's pixels (3, DT, P, P) of one clip (3, T, H, W)."""
    t, rest = divmod(n, HW)
    h, c = divmod(rest, GRID[2])
    return clip[:, t * DT:(t + 1) * DT, h * P:(h + 1) * P, c * P:(c + 1) * P]


def target(clip, n):
    """Token n's normalised pixels, (dt, i, j, c) with c fastest."""
    mean = torch.tensor(MEAN, dtype=clip.dtype).view(3, 1, 1, 1)
    std = torch.tensor(STD, dtype=clip.dtype).view(3, 1, 1, 1)
    pixels = tubelet(clip * std + mean, n).reshape(3, -1)  # (c, dt*i*j)
    pixels = (pixels - pixels.mean(1, keepdim=True)) / (
        pixels.std(1, unbiased=True, keepdim=True) + 1e-6)
    return pixels.T.reshape(-1)


def reference_step(video, mask, w):
    """Decoder outputs (B, M, OUT) and loss of one VideoMAE step."""
    enc_pos, dec_pos = sincos(N, ENC), sincos(N, DEC)
    preds, loss, count = [], 0.0, 0
    for clip, m in zip(video, mask):
        visible = [n for n in range(N) if not m[n]]
        masked = [n for n in range(N) if m[n]]
        x = torch.stack([
            torch.einsum('ocdij,cdij->o', w['encoder.patch_embed.proj.weight'],
                         tubelet(clip, n)) +
            w['encoder.patch_embed.proj.bias'] + enc_pos[n] for n in visible
        ])
        for i in range(ENC_DEPTH):
            x = block(x, w, f'encoder.blocks.{i}', ENC_HEADS)
        x = layer_norm(x, w, 'encoder.norm') @ w['encoder_to_decoder.weight'].T
        x = torch.cat([
            x + dec_pos[visible],
            w['mask_token'][0] + dec_pos[masked]])
        for i in range(DEC_DEPTH):
            x = block(x, w, f'decoder.blocks.{i}', DEC_HEADS)
        pred = layer_norm(x[-len(masked):], w, 'decoder.norm') @ \
            w['decoder.head.weight'].T + w['decoder.head.bias']
        preds.append(pred)
        for row, n in zip(pred, masked):
            loss += ((row - target(clip, n))**2).sum().item()
            count += row.numel()
    return torch.stack(preds), loss / count


def clips(batch=3, seed=2):
    return torch.randn(batch, 3, FRAMES, IMG, IMG, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(seed))


def record(module, name, seen=None):
    """Keep the first output of ``module`` (the decoder's pred for
    'pred') in ``seen[name]``."""
    seen = {} if seen is None else seen

    def hook(mod, args, out):
        seen.setdefault(name, out[0] if name == 'pred' else out)

    module.register_forward_hook(hook)
    return seen


def run_ours(model, video, seed=3):
    """``model.loss`` with the mask and decoder output it used."""
    seen = record(model.neck, 'pred', record(model.masker, 'mask'))
    torch.manual_seed(seed)
    losses = model.loss(video, None)
    return losses, seen['mask'], seen['pred']


# ------------------------------------------------------------------ tests
def test_step_equals_plain_restatement():
    model = build().double()
    assert load_reference(model, reference_state()).unexpected_keys == []
    video = clips()
    losses, mask, pred = run_ours(model, video)
    ref_pred, ref_loss = reference_step(video, mask, reference_state())
    assert pred.shape == (3, N // 2, OUT)
    assert torch.allclose(pred, ref_pred, rtol=0, atol=1e-6)
    assert losses['loss'].item() == pytest.approx(ref_loss, rel=0, abs=1e-6)


def test_target_conventions():
    """Each masked token's row: channel fastest over (dt, i, j), normalised
    per token and channel with the unbiased std + 1e-6; rows in
    increasing n."""
    head = VideoMAEHead(patch_size=P, tubelet_size=DT).double()
    video = clips(2)
    # token 6 of clip 0 nearly flat: the 1e-6 goes after the square root
    video[0, :, 2:4, P:, :P] = 0.3 + 1e-3 * video[0, :, 2:4, P:, :P]
    mask = torch.zeros(2, N, dtype=torch.bool)
    mask[0, [1, 6]] = mask[1, [0, 5]] = True
    got = head.construct_target(video, mask, 2)
    assert got.shape == (2, 2, OUT)
    for b, rows in ((0, (1, 6)), (1, (0, 5))):
        for r, n in enumerate(rows):
            assert torch.allclose(got[b, r], target(video[b], n), atol=1e-9)
    # one element by hand: channel 2 of pixel (dt=1, i=3, j=5) of token 6
    mean, std = torch.tensor(MEAN).double(), torch.tensor(STD).double()
    raw = tubelet(video[0] * std.view(3, 1, 1, 1) + mean.view(3, 1, 1, 1), 6)
    c = raw[2].reshape(-1)
    expected = (raw[2, 1, 3, 5] - c.mean()) / (c.std(unbiased=True) + 1e-6)
    assert got[0, 1, ((1 * P + 3) * P + 5) * 3 + 2].item() == pytest.approx(
        expected.item(), abs=1e-9)


@pytest.mark.parametrize('img, ratio', [(32, 0.9), (64, 0.9), (64, 0.75)])
def test_tube_mask(img, ratio):
    """One spatial pattern per clip, repeated at every time step, exactly
    int(ratio * Hp * Wp) per step, uniform over positions."""
    vit = VideoMAEViT(img_size=img, patch_size=P, embed_dims=ENC, depth=1,
                      num_heads=ENC_HEADS, num_frames=8, tubelet_size=DT,
                      mask_ratio=ratio)
    hw = (img // P)**2
    m = int(ratio * hw)
    assert (vit.grid, vit.num_masked_per_frame) == ((4, img // P, img // P),
                                                     m)
    assert (vit.num_patches, vit.num_masked) == (4 * hw, 4 * m)
    masker = TubeMasker(hw, vit.num_masked_per_frame, 4)
    mask = masker(None, 4000)
    steps = mask.view(4000, 4, hw)
    assert mask.shape == (4000, 4 * hw) and mask.dtype == torch.bool
    assert (steps == steps[:, :1]).all()
    assert (steps.sum(-1) == m).all()
    freq = steps[:, 0].float().mean(0)
    assert (freq - m / hw).abs().max() < 0.05


@pytest.mark.parametrize('algorithm', ['VideoMAE', 'VideoHPM'])
def test_reference_init(algorithm):
    masker = dict(type='HardTubeMasker', fixed_alpha=0.0) \
        if algorithm == 'VideoHPM' else {}
    model = build(algorithm, **masker)
    conv = model.backbone.patch_embed.projection
    e2d = model.neck.encoder_to_decoder
    linears = [m for name, m in model.named_modules()  # teacher's too
               if isinstance(m, torch.nn.Linear)
               and not name.endswith('encoder_to_decoder')]
    assert len(linears) >= 4 * (ENC_DEPTH + DEC_DEPTH) + 1
    for lin in linears:  # xavier-uniform, zero bias
        bound = math.sqrt(6 / (lin.in_features + lin.out_features))
        w = lin.weight.abs()
        assert w.max() <= bound and w.max() > 0.8 * bound
        assert lin.bias is None or not lin.bias.any()
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            assert (m.weight == 1).all() and not m.bias.any()
    # PyTorch's default (kaiming-uniform a=sqrt(5)): bound 1 / sqrt(fan_in)
    for mod, fan_in in ((conv, 3 * DT * P * P), (e2d, ENC)):
        w = mod.weight.abs()
        assert w.max() <= fan_in**-0.5 and w.max() > 0.8 * fan_in**-0.5
    assert conv.bias.any()
    token = model.neck.mask_token
    assert token.abs().max() <= 0.02 and token.std() > 0.005
    for name, p in model.backbone.named_parameters():
        if name.endswith('q_bias') or name.endswith('v_bias'):
            assert not p.any()
    if algorithm == 'VideoHPM':  # the teacher starts as the student
        teacher = model.teacher.module.state_dict()
        for k, v in model.student_modules().state_dict().items():
            assert torch.equal(teacher[k], v), k
        assert not torch.equal(model.neck.head.weight,
                               model.neck.head_losspred.weight)


def test_reference_checkpoint_layout(tmp_path):
    """A released-style checkpoint ({'model': state dict}, reference names)
    maps key for key onto ours, same shapes; ours has only the fixed
    position table besides."""
    path = tmp_path / 'videomae.pth'
    torch.save({'model': reference_state()}, path)
    state = torch.load(path, weights_only=True)['model']
    model = build().double()
    ours = model.state_dict()
    mapped = {VIDEOMAE.right(k): v for k, v in state.items()}
    assert None not in mapped and len(mapped) == len(state)
    assert set(ours) - set(mapped) == {'backbone.pos_embed'}
    for k, v in mapped.items():
        assert ours[k].shape == v.shape, k
    result = model.load_state_dict(mapped, strict=False)
    assert result.missing_keys == ['backbone.pos_embed']
    assert result.unexpected_keys == []
    assert torch.equal(model.neck.blocks[0].mlp.layers[1].weight,
                       state['decoder.blocks.0.mlp.fc2.weight'])
    assert VIDEOMAE.right('decoder.pos_embed') is None


def test_inputs_from_the_video_preprocessor():
    """mmpretrain's VideoDataPreprocessor gives a (B, 1, 3, T, H, W) tensor
    after default_collate and a list of (1, 3, T, H, W) after
    pseudo_collate: the same loss as the (B, 3, T, H, W) batch."""
    model = build()
    raw = torch.randint(0, 256, (2, 1, 3, FRAMES, IMG, IMG), dtype=torch.uint8)
    losses = []
    for inputs in (raw, list(raw)):
        data = model.data_preprocessor(
            dict(inputs=inputs, data_samples=None), True)
        torch.manual_seed(0)
        losses.append(model(**data, mode='loss')['loss'])
    mean = torch.tensor(MEAN).view(1, 3, 1, 1, 1) * 255
    std = torch.tensor(STD).view(1, 3, 1, 1, 1) * 255
    torch.manual_seed(0)
    plain = model.loss((raw[:, 0].float() - mean) / std, None)['loss']
    assert torch.allclose(losses[0], plain) and torch.equal(*losses)
    # several clips per video: one row each
    two = torch.randn(2, 2, 3, FRAMES, IMG, IMG)
    assert torch.equal(as_clips(two), two.flatten(0, 1))
    assert torch.equal(as_clips(list(two)), two.flatten(0, 1))


@pytest.mark.parametrize('build_it, words', [
    (lambda: VideoMAEViT(img_size=32, num_frames=5, tubelet_size=2),
     ('VideoMAEViT', 'num_frames')),
    (lambda: VideoMAEViT(img_size=40, patch_size=16),
     ('VideoMAEViT', 'img_size')),
    (lambda: VideoMAEViT(img_size=32, mask_ratio=1.0),
     ('VideoMAEViT', 'mask_ratio')),
    (lambda: VideoMAEViT(img_size=32, mask_ratio=0.2),  # int(0.8) = 0
     ('VideoMAEViT', 'mask_ratio')),
    (lambda: TubeMasker(4, 4, 2), ('TubeMasker', 'num_masked_per_frame')),
    (lambda: HardTubeMasker(4, 2, 0), ('HardTubeMasker', 'num_frames')),
    (lambda: VideoMAEDecoder(decoder_embed_dim=10, decoder_num_heads=3),
     ('VideoMAEDecoder', 'decoder_embed_dim')),
    (lambda: VideoMAEHead(tubelet_size=0), ('VideoMAEHead', 'tubelet_size')),
    (lambda: MODELS.build(
        dict(tiny_cfg(), neck=dict(tiny_cfg()['neck'], embed_dim=16))),
     ('model.neck.embed_dim', )),
    (lambda: MODELS.build(
        dict(tiny_cfg(), head=dict(tiny_cfg()['head'], tubelet_size=1))),
     ('model.head.tubelet_size', )),
    (lambda: MODELS.build(
        dict(tiny_cfg(), head=dict(tiny_cfg()['head'], std=(1., 1., 1.)))),
     ('model.head.std', )),
])
def test_bad_arguments_give_one_line(build_it, words):
    with pytest.raises((ValueError, ConfigError)) as info:
        build_it()
    message = str(info.value)
    assert '\n' not in message
    for word in words:
        assert word in message


def test_import_needs_mmaction_and_says_so():
    """``import hpm_mm`` leaves mmaction alone; ``import hpm_mm.video``
    without it fails with one line naming it."""
    code = (
        'import sys\n'
        'import hpm_mm\n'
        "assert 'mmaction' not in sys.modules\n"
        "sys.modules['mmaction'] = None\n"
        'try:\n'
        '    import hpm_mm.video\n'
        'except ImportError as e:\n'
        '    print(e)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    assert out.count('\n') == 1
    assert out.startswith('hpm_mm.video needs mmaction')
