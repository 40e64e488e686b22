"""How ``HPM.loss`` wires its parts, against a plain restatement of one step.

The reference below re-derives one HPM training step, as the released code
computes it, from the model's weights alone, one image, one patch, one head
and one pair at a time: the teacher scores the full image with its encoder
and its loss-predictor branch; the ``n_hard`` top-scored patches are masked, then
random ones; the student encodes the visible patches; its two decoder
branches reconstruct pixels and predict losses; the reconstruction and
loss-prediction losses follow. It shares no code with ``hpm_mm`` and is
compared with :meth:`HPM.loss` on the same weights, inputs and RNG state.

The model is set up so that wiring mistakes show: every weight of the
student is perturbed (non-zero biases, non-trivial norms, two decoder
branches that differ), and the teacher's buffers are perturbed apart from
the student's, so that the student and the teacher rank the patches
differently. Both run in float64 so that 1e-6 is far above rounding.
"""
import math

import pytest
import torch

from .conftest import (TINY_ARCH, TINY_IMG, TINY_PATCH, build_tiny_hpm,
                       set_progress, start_iteration)

P = TINY_PATCH
GRID = TINY_IMG // P  # patches per side
L = GRID * GRID  # 16
M = L - int(L * 0.25)  # 12 masked
ENC_DEPTH, ENC_HEADS = TINY_ARCH['num_layers'], TINY_ARCH['num_heads']
DEC_DEPTH, DEC_HEADS = 2, 2  # tiny_hpm_cfg's decoder
EPS = 1e-6  # LayerNorm eps, loss epsilons


# ---------------------------------------------------------------- networks
def layer_norm(x, w, name):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean)**2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS) * w[f'{name}.weight'] + \
        w[f'{name}.bias']


def linear(x, w, name):
    return x @ w[f'{name}.weight'].T + w[f'{name}.bias']


def vit_block(x, w, name, heads):
    """Pre-norm block on one image's tokens (N, D): attention, then MLP."""
    width = x.shape[-1]
    hd = width // heads
    q, k, v = linear(layer_norm(x, w, f'{name}.ln1'), w,
                     f'{name}.attn.qkv').split(width, dim=-1)
    out = []
    for h in range(heads):
        cols = slice(h * hd, (h + 1) * hd)
        att = torch.softmax(q[:, cols] @ k[:, cols].T / math.sqrt(hd), -1)
        out.append(att @ v[:, cols])
    x = x + linear(torch.cat(out, dim=-1), w, f'{name}.attn.proj')
    hid = linear(layer_norm(x, w, f'{name}.ln2'), w, f'{name}.ffn.layers.0.0')
    hid = 0.5 * hid * (1 + torch.erf(hid / math.sqrt(2)))  # exact GELU
    return x + linear(hid, w, f'{name}.ffn.layers.1')


def patch(img, idx):
    """Patch ``idx`` (row-major) of one image (3, H, W): (3, P, P)."""
    r, c = divmod(idx, GRID)
    return img[:, r * P:(r + 1) * P, c * P:(c + 1) * P]


def encode(img, w, visible):
    """Encoder on the listed patches of one image: (1 + len(visible), C)."""
    tokens = [w['cls_token'][0, 0] + w['pos_embed'][0, 0]]
    for idx in visible:
        emb = (w['patch_embed.projection.weight'] * patch(img, idx)).sum(
            (1, 2, 3)) + w['patch_embed.projection.bias']
        tokens.append(emb + w['pos_embed'][0, 1 + idx])
    x = torch.stack(tokens)
    for i in range(ENC_DEPTH):
        x = vit_block(x, w, f'layers.{i}', ENC_HEADS)
    return layer_norm(x, w, 'ln1')


def decoder_input(latent, w, visible):
    """All L positions: encoded tokens where visible, else the mask token."""
    x = linear(latent, w, 'decoder_embed')
    seq = [x[0]]
    for idx in range(L):
        seq.append(x[1 + visible.index(idx)] if idx in visible else
                   w['mask_token'][0, 0])
    return torch.stack(seq) + w['decoder_pos_embed'][0]


def branch(tokens, w, blocks, norm, out):
    for i in range(DEC_DEPTH):
        tokens = vit_block(tokens, w, f'{blocks}.{i}', DEC_HEADS)
    return linear(layer_norm(tokens, w, norm), w, out)[1:]  # cls dropped


def reconstructor(tokens, w):
    return branch(tokens, w, 'decoder_blocks', 'ln1', 'decoder_pred')


def loss_predictor(tokens, w):
    """One score per patch: the mean of the branch's p*p*3 outputs."""
    return branch(tokens, w, 'decoder_blocks_losspred',
                  'decoder_norm_losspred', 'decoder_pred_losspred').mean(-1)


# ---------------------------------------------------------------- one step
def reference_step(x, enc, dec, t_enc, t_dec, epoch, max_epochs, mode,
                   norm_pix):
    """One HPM step as the released code computes it, from the weights
    (see the module doc)."""
    B = x.shape[0]
    alpha = 0.5 * (epoch + 1) / max_epochs
    n_hard = int(M * alpha)
    # The one random draw of the step: a uniform number per patch; the
    # random part of the mask takes the patches with the largest ones (the
    # draw of MAE's random_masking).
    noise = torch.rand(B, L)
    mask = torch.zeros(B, L, dtype=torch.bool)
    for b in range(B):
        hard = []
        if n_hard > 0:
            everything = list(range(L))
            t_scores = loss_predictor(
                decoder_input(encode(x[b], t_enc, everything), t_dec,
                              everything), t_dec)
            hard = sorted(range(L), key=lambda i: -t_scores[i].item())
            hard = hard[:n_hard]
        rest = sorted((i for i in range(L) if i not in hard),
                      key=lambda i: -noise[b, i].item())
        for idx in hard + rest[:M - n_hard]:
            mask[b, idx] = True

    per_patch, scores = [], []
    for b in range(B):
        visible = [i for i in range(L) if not mask[b, i]]
        tokens = decoder_input(encode(x[b], enc, visible), dec, visible)
        pixels, s = reconstructor(tokens, dec), loss_predictor(tokens, dec)
        l_b, s_b = [], []
        for idx in range(L):
            if not mask[b, idx]:
                continue
            target = patch(x[b], idx).permute(1, 2, 0).reshape(-1)
            if norm_pix:
                target = (target - target.mean()) / torch.sqrt(
                    target.var() + EPS)
            l_b.append(((pixels[idx] - target)**2).mean().item())
            s_b.append(s[idx].item())
        per_patch.append(l_b)
        scores.append(s_b)
    loss_rec = sum(map(sum, per_patch)) / (B * M)

    total, pairs, correct, count = 0.0, 0, 0, 0
    for l_b, s_b in zip(per_patch, scores):
        if mode == 'absolute':
            mean = sum(l_b) / M
            std = math.sqrt(sum((v - mean)**2 for v in l_b) / (M - 1) + EPS)
            for li, si in zip(l_b, s_b):
                total += (si - (li - mean) / std)**2
                count += 1
        for i in range(M):
            for j in range(M):
                if l_b[i] == l_b[j]:
                    continue
                z = s_b[j] - s_b[i]
                sig = 1 / (1 + math.exp(-z))
                if mode == 'relative':
                    total -= math.log(sig + EPS) if l_b[j] > l_b[i] else \
                        math.log(1 - sig + EPS)
                pairs += 1
                correct += (z > 0) == (l_b[j] > l_b[i]) and z != 0
    loss_pred = total / (pairs if mode == 'relative' else count)
    return dict(loss_rec=loss_rec, loss_pred=loss_pred,
                rank_acc=correct / pairs, mask=mask)


# ---------------------------------------------------------------- the model
def weights(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def perturbed_model(mode='relative', norm_pix=False):
    model = build_tiny_hpm(head=dict(
        norm_pix=norm_pix,
        loss_pred=dict(type='LossPredictionLoss', mode=mode))).double()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.student_modules().parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen,
                                     dtype=p.dtype))
        for t in model.teacher.module.buffers():
            t.add_(0.2 * torch.randn(t.shape, generator=gen, dtype=t.dtype))
    return model


def run_both(model, message_hub, epoch, max_epochs=10, seed=3):
    set_progress(message_hub, epoch=epoch, max_epochs=max_epochs)
    start_iteration(model, message_hub)
    x = torch.randn(3, 3, TINY_IMG, TINY_IMG, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(2))
    seen = {}
    model.masker.register_forward_hook(
        lambda mod, args, out: seen.setdefault('mask', out))
    torch.manual_seed(seed)
    got = model.loss(x, None)
    state = model.state_dict()
    torch.manual_seed(seed)
    ref = reference_step(
        x, weights(state, 'backbone.'), weights(state, 'neck.'),
        weights(state, 'teacher.module.backbone.'),
        weights(state, 'teacher.module.neck.'), epoch, max_epochs,
        model.head.loss_pred.mode, model.head.norm_pix)
    return got, ref, seen['mask']


@pytest.mark.parametrize(
    'epoch, mode, norm_pix',
    [
        (9, 'relative', False),  # alpha 0.5: n_hard 6 of 12
        (4, 'absolute', False),  # alpha 0.25: n_hard 3
        (1, 'relative', False),  # alpha 0.1: n_hard 1
        (0, 'relative', True),  # alpha 0.05: n_hard 0, uniform mask
    ])
def test_one_step_equals_plain_reference(message_hub, epoch, mode,
                                         norm_pix):
    model = perturbed_model(mode, norm_pix)
    got, ref, mask = run_both(model, message_hub, epoch)
    assert torch.equal(mask, ref['mask'])
    for key in ('loss_rec', 'loss_pred', 'rank_acc'):
        assert got[key].item() == pytest.approx(ref[key], rel=0, abs=1e-6), \
            key
    assert got['alpha'].item() == pytest.approx(0.5 * (epoch + 1) / 10)

