"""Seeing hard tubes: HardTubeInferencer, the figure, the CLI and the CPU
demo on generated clips of a moving square (issue 28)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from PIL import Image

import hpm_mm.video  # noqa: F401  (registers VideoHPM)
from hpm_mm.apis import HardPatchInferencer, HardTubeInferencer
from hpm_mm.structures import HardTubeResult
from hpm_mm.testing.video import moving_square_clip, write_video
from hpm_mm.visualization import (TUBE_PANELS, draw_hard_tubes,
                                  mask_overlay, plot_hard_tubes)

from ..conftest import ROOT, build_tiny_hpm

IMG, P, FRAMES = 32, 8, 4
GRID = (FRAMES // 2, IMG // P, IMG // P)  # (2, 4, 4): 32 tokens
M = 12  # masked positions per step (mask ratio 0.75 of 16)


def tiny_cfg() -> dict:
    """A tiny VideoHPM."""
    return dict(
        type='VideoHPM',
        backbone=dict(type='VideoMAEViT', img_size=IMG, patch_size=P,
                      embed_dims=32, depth=2, num_heads=2,
                      num_frames=FRAMES, mask_ratio=0.75),
        neck=dict(type='VideoMAEDecoder', num_patches=32, embed_dim=32,
                  decoder_embed_dim=16, decoder_depth=1,
                  decoder_num_heads=2, patch_size=P),
        head=dict(type='HPMVideoHead', patch_size=P),
        masker=dict(type='HardTubeMasker'),
        teacher=dict(type='HPMTeacherEMA', momentum_start=0.5,
                     momentum_end=0.5, warmup_epochs=0))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    # a teacher unlike the student, so that mixing them up shows
    with torch.no_grad():  # state_dict() tensors share storage
        for t in model.teacher.module.state_dict().values():
            if t.is_floating_point():
                t.add_(0.05 * torch.randn_like(t))
    return model.eval()


def clips(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [moving_square_clip(rng, FRAMES, IMG) for _ in range(n)]


def test_scores_tubes_and_reconstruction(model):
    inferencer = HardTubeInferencer(model, frame_interval=1)
    inputs = clips(3)
    results = inferencer(inputs, alpha=0.5, batch_size=2)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)
    for clip, r in zip(inputs, results):
        np.testing.assert_array_equal(r.frames, clip)
        # the teacher's scores of the unmasked clip, normalised here
        x = (torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float() -
             mean) / std
        scores, _ = model.teacher_forward(x, with_scores=True)
        np.testing.assert_allclose(r.scores, scores.view(GRID).numpy(),
                                   atol=1e-5)
        # tubes: the same M positions at every step, the mined ones the
        # int(M * alpha) top-scored by their mean over time
        assert r.scores.shape == r.hard.shape == r.masked.shape == GRID
        assert (r.masked == r.masked[:1]).all() and (r.hard
                                                     == r.hard[:1]).all()
        assert r.masked[0].sum() == M and r.hard[0].sum() == M // 2
        assert not (r.hard & ~r.masked).any()
        top = np.argsort(-r.scores.mean(0).ravel())[:M // 2]
        assert set(np.flatnonzero(r.hard[0])) == set(top)
        # visible tokens of the reconstruction are the input itself,
        # masked ones are not
        visible = np.repeat(np.kron(~r.masked[0], np.ones((P, P), bool))[
            None], FRAMES, axis=0)
        assert r.recon.shape == clip.shape and r.recon.dtype == np.uint8
        diff = np.abs(r.recon.astype(int) - clip.astype(int))
        assert diff[visible].max() <= 1 and (diff[~visible] > 1).any()


def test_per_token_mining():
    """HardTubeMasker(per_token=True): the mined part is the top-scored
    tokens of the whole clip, not tubes."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        tiny_cfg(), masker=dict(type='HardTubeMasker', per_token=True)))
    model.init_weights()
    inferencer = HardTubeInferencer(model, frame_interval=1)
    (r, ) = inferencer(clips(1)[0], alpha=0.5, return_recon=False)
    n_hard = int(M * GRID[0] * 0.5)
    assert r.masked.sum() == M * GRID[0] and r.hard.sum() == n_hard
    top = np.argsort(-r.scores.ravel())[:n_hard]
    assert set(np.flatnonzero(r.hard)) == set(top)


@pytest.mark.parametrize('norm_pix', [True, False])
def test_reconstruction_inverts_the_target(model, monkeypatch, norm_pix):
    """The student's prediction, de-normalised with the input's per-token
    statistics under ``norm_pix``, gives the target back: pasting the target
    in place of the prediction reconstructs the clip."""
    inferencer = HardTubeInferencer(model, frame_interval=1)
    clip = clips(1, seed=3)[0]
    head = model.head
    monkeypatch.setattr(head, 'norm_pix', norm_pix)
    calls = []

    def perfect(latent, ids_restore):
        mask = torch.zeros_like(ids_restore, dtype=torch.bool)
        mask.scatter_(1, ids_restore.argsort(1)[:, latent.shape[1]:], True)
        calls.append(mask)
        return head.construct_target(video, mask, int(mask[0].sum())), None

    x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float()
    pre = model.data_preprocessor
    video = (x - pre.mean.view(1, 3, 1, 1, 1)) / pre.std.view(1, 3, 1, 1, 1)
    monkeypatch.setattr(model.neck, 'forward', perfect)
    (r, ) = inferencer(clip, alpha=0.5)
    assert calls and r.masked.sum() == M * GRID[0]
    assert np.abs(r.recon.astype(int) - clip.astype(int)).max() <= 1


def test_video_file_and_seed(model, tmp_path):
    """A video file gives what its decoded frames give; the random tubes
    follow the seed; alpha 0 mines nothing."""
    import decord
    path = write_video(str(tmp_path / 'clip.mp4'), clips(1, seed=5)[0])
    frames = decord.VideoReader(path).get_batch(range(FRAMES)).asnumpy()
    inferencer = HardTubeInferencer(model, frame_interval=1)
    from_file, from_array = inferencer([path, frames])
    np.testing.assert_array_equal(from_file.frames, frames)
    np.testing.assert_allclose(from_file.scores, from_array.scores,
                               atol=1e-6)
    masks = {inferencer(path, seed=s)[0].masked.tobytes() for s in range(6)}
    assert len(masks) > 1
    zero = inferencer(path, alpha=0.0, return_recon=False)[0]
    assert not zero.hard.any() and zero.recon is None


def test_bad_inputs(model, tmp_path):
    with pytest.raises(ValueError, match='frame_interval must be'):
        HardTubeInferencer(model, frame_interval=0)
    inferencer = HardTubeInferencer(model, frame_interval=1)
    with pytest.raises(FileNotFoundError, match='video not found: .*no.mp4'):
        inferencer(str(tmp_path / 'no.mp4'))
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(OSError, match='corrupt video: .*bad.mp4'):
        inferencer(str(bad))
    with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\]'):
        inferencer(clips(1)[0], alpha=2.0)
    with pytest.raises(TypeError, match='HPM, not a VideoHPM'):
        HardTubeInferencer(build_tiny_hpm())
    with pytest.raises(TypeError, match='VideoHPM is a video model, use '
                       'HardTubeInferencer'):
        HardPatchInferencer(model)


def synthetic_results(recon: bool) -> list:
    """Two clips of 4 steps (8 frames) on a 3 x 3 grid with known masks."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        frames = rng.integers(0, 256, (8, 24, 24, 3), dtype=np.uint8)
        masked = np.zeros((4, 3, 3), bool)
        masked[:, :2] = True
        hard = np.zeros_like(masked)
        hard[:, i, :] = True
        out.append(HardTubeResult(
            frames=frames, scores=rng.random((4, 3, 3)), hard=hard,
            masked=masked, recon=255 - frames if recon else None))
    return out


def test_figure_panels():
    results = synthetic_results(recon=True)
    fig = draw_hard_tubes(results, title='t')
    axes = np.array(fig.axes[:2 * len(TUBE_PANELS) * 5]).reshape(-1, 5)
    assert axes.shape == (8, 5)  # 2 clips x 4 panels, 4 steps + tube score
    for c, r in enumerate(results):
        rows = axes[c * 4:(c + 1) * 4]
        assert [row[0].get_ylabel() for row in rows] == list(TUBE_PANELS)
        assert [ax.get_title() for ax in rows[0][:4]] == [
            'frame 0', 'frame 2', 'frame 4', 'frame 6']
        for t in range(4):
            shown = [np.asarray(row[t].images[0].get_array())
                     for row in rows]
            np.testing.assert_array_equal(shown[0], r.frames[2 * t])
            np.testing.assert_allclose(shown[1], r.scores[t])
            np.testing.assert_array_equal(
                shown[2], mask_overlay(r.frames[2 * t], r.hard[t],
                                       r.masked[t]))
            np.testing.assert_array_equal(shown[3], r.recon[2 * t])
        assert rows[1][4].get_title() == 'tube score'
        np.testing.assert_allclose(rows[1][4].images[0].get_array(),
                                   r.scores.mean(0))
        # one colour scale per clip, over all its steps
        assert rows[1][0].images[0].get_clim() == (r.scores.min(),
                                                   r.scores.max())
        assert not any(rows[k][4].images for k in (0, 2, 3))


def test_mask_overlay_colours():
    img = np.full((4, 4, 3), 100, np.uint8)
    hard = np.array([[True, False], [False, False]])
    masked = np.array([[True, True], [False, False]])
    out = mask_overlay(img, hard, masked).astype(int)
    assert (out[:2, :2] == [178, 61, 61]).all()  # red
    assert (out[:2, 2:] == [74, 106, 184]).all()  # blue
    assert (out[2:] == 100).all()  # visible


def test_figure_file(tmp_path):
    out = plot_hard_tubes(synthetic_results(recon=False),
                          str(tmp_path / 'f.png'))
    with Image.open(out) as img:  # 2 clips x 3 panels of 1.7 in at 90 dpi
        assert img.format == 'PNG' and img.size == (765, 918)


# ------------------------------------------------------- the demo and CLI
def run(args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable] + args, capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


def load_demo():
    spec = importlib.util.spec_from_file_location(
        'demo_video', osp.join(ROOT, 'tools', 'demo_video.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_where_mined():
    """The demo's measures: which tokens and tubes the white square
    covers, the mined share on it, the teacher's preference for it."""
    demo = load_demo()
    frames = np.zeros((4, 24, 24, 3), np.uint8)
    frames[0, 0:8, 0:8] = 255  # covers token (0, 0, 0) in frame 0
    frames[3, 9:12, 17:20] = 255  # and token (1, 1, 2) in frame 3
    frames[1, 16:, 16:] = 254  # not white: background
    masked = np.zeros((2, 3, 3), bool)
    masked[:, 0] = masked[:, 1, 0] = True  # 4 tubes
    hard = np.zeros_like(masked)
    hard[:, 0, :2] = True  # (0, 0) and (0, 1)
    scores = np.arange(18.).reshape(2, 3, 3)  # the square's: 0 and 14
    r = HardTubeResult(frames=frames, scores=scores, hard=hard,
                       masked=masked)
    expected = np.zeros((2, 3, 3), bool)
    expected[0, 0, 0] = expected[1, 1, 2] = True
    np.testing.assert_array_equal(demo.square_tokens(r), expected)
    shares = demo.where_mined([r, r])
    assert shares['mined'] == 0.5 and shares['random'] == 0.0
    assert shares['all'] == pytest.approx(2 / 9)
    assert shares['area'] == pytest.approx((64 + 9) / (4 * 24 * 24))
    assert shares['num_mined'] == 4
    # of the square's scores, 0 is above none of the 16 others of its clip,
    # 14 above 13: so too over both clips
    assert shares['auc'] == 13 / 32


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo_video')
    proc = run([
        osp.join(ROOT, 'tools', 'demo_video.py'), '--iters', '3',
        '--videos', '4', '--eval-clips', '4', '--work-dir',
        str(tmp / 'out'), '--data-root', str(tmp / 'data')
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, proc.stdout


def test_demo_writes_outputs(demo_run):
    tmp, stdout = demo_run
    out = tmp / 'out'
    for name in ('training_curves.png', 'hard_tubes_start.png',
                 'hard_tubes_end.png', 'iter_3.pth'):
        assert (out / name).stat().st_size > 1000, name
        assert str(out / name) in stdout
    assert 'at the start ->' in stdout and 'after 3 iterations' in stdout
    assert 'chance (all tubes)' in stdout
    assert 'on the moving square more often than chance' in stdout
    lines = (tmp / 'data' / 'kinetics400_train_list_videos.txt').read_text()
    assert len(lines.split()) == 2 * 4


def test_visualize_tool(demo_run):
    tmp, _ = demo_run
    cfg = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-video-demo_cpu.py')
    video = str(next((tmp / 'data' / 'videos_val').rglob('*.mp4')))
    out = tmp / 'vis.png'
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_tubes.py'), cfg,
        str(tmp / 'out' / 'iter_3.pth'), video, '--frame-interval', '1',
        '--out', str(out)
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.stat().st_size > 1000
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_tubes.py'), cfg,
        str(tmp / 'out' / 'iter_3.pth'), str(tmp / 'missing.mp4')
    ])
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith(
        'visualize_hard_tubes: error: video not found:') \
        and 'missing.mp4' in last
    proc = run([
        osp.join(ROOT, 'tools', 'visualize_hard_tubes.py'), cfg,
        str(tmp / 'none.pth'), video
    ])
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.startswith(
        'visualize_hard_tubes: error: checkpoint not found')
