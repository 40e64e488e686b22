"""hpm_mm.apis.HardPatchInferencer on a tiny HPM and real image files."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from PIL import Image

from hpm_mm.apis import HardPatchInferencer
from hpm_mm.converters import CheckpointError
from hpm_mm.testing import IMG, tiny_hpm_cfg

from .conftest import build_tiny_hpm
from .downstream.helpers import released_checkpoint, save_hpm_checkpoint

PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
M = 12  # 16 patches of the tiny model, 75% masked


def tiny_model():
    model = build_tiny_hpm(distinct_teacher=True)
    model.data_preprocessor = MODELS.build(PREPROCESSOR)
    return model


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A checkpoint, its config file and three images of other sizes."""
    tmp = tmp_path_factory.mktemp('inferencer')
    model = tiny_model()
    ckpt = save_hpm_checkpoint(model, str(tmp / 'tiny.pth'))
    cfg = tmp / 'tiny_hpm.py'
    model_cfg = tiny_hpm_cfg(data_preprocessor=PREPROCESSOR)
    cfg.write_text("custom_imports = dict(imports=['hpm_mm'])\n"
                   f'model = {model_cfg!r}\n')
    rng = np.random.default_rng(0)
    images = []
    for i, (h, w) in enumerate([(80, 100), (120, 64), (64, 64)]):
        low = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
        path = str(tmp / f'img{i}.png')
        Image.fromarray(low).resize((w, h), Image.BICUBIC).save(path)
        images.append(path)
    return dict(model=model, ckpt=ckpt, cfg=str(cfg), images=images,
                tmp=tmp)


def reference_crop(path: str) -> np.ndarray:
    """Short side resized to IMG (PIL bicubic), centre IMG x IMG, RGB."""
    img = Image.open(path).convert('RGB')
    scale = IMG / min(img.size)
    img = img.resize((int(img.width * scale), int(img.height * scale)),
                     Image.BICUBIC)
    left, top = (img.width - IMG) // 2, (img.height - IMG) // 2
    return np.asarray(img.crop((left, top, left + IMG, top + IMG)))


def normalise(rgb: np.ndarray) -> torch.Tensor:
    """The model's input for an RGB crop, computed without the model."""
    mean = torch.tensor(PREPROCESSOR['mean']).view(1, 3, 1, 1)
    std = torch.tensor(PREPROCESSOR['std']).view(1, 3, 1, 1)
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float()
    return (x - mean) / std


def test_scores_mask_and_reconstruction(files):
    inferencer = HardPatchInferencer(files['cfg'], files['ckpt'])
    bgr = np.asarray(Image.open(files['images'][0]))[..., ::-1]
    results = inferencer(files['images'] + [bgr], alpha=0.5, batch_size=2)
    assert len(results) == 4
    model = files['model'].eval()
    for path, r in zip(files['images'] + [files['images'][0]], results):
        crop = reference_crop(path)
        np.testing.assert_array_equal(r.image, crop)
        # the teacher's scores of the unmasked image, from the checkpoint
        scores = model.teacher_forward(normalise(crop), with_scores=True)[0]
        expected = scores[0].view(4, 4)
        np.testing.assert_allclose(r.scores, expected.numpy(), atol=1e-5)
        assert r.masked.sum() == M and r.hard.sum() == int(M * 0.5)
        assert not (r.hard & ~r.masked).any()
        # the hard part is the n_hard top-scored patches
        top = np.argsort(-r.scores.ravel())[:int(M * 0.5)]
        assert set(np.flatnonzero(r.hard)) == set(top)
        # visible patches of the reconstruction are the input itself
        vis = np.kron(~r.masked, np.ones((16, 16), dtype=bool))
        assert r.recon.shape == crop.shape and r.recon.dtype == np.uint8
        diff = np.abs(r.recon.astype(int) - crop.astype(int))[vis]
        assert diff.max() <= 1
    # a BGR array gives what its file gives
    np.testing.assert_allclose(results[3].scores, results[0].scores,
                               atol=1e-6)


def test_alpha_seed_and_rng(files):
    inferencer = HardPatchInferencer(files['cfg'], files['ckpt'])
    img = files['images'][:1]
    zero = inferencer(img, alpha=0.0, return_recon=False)[0]
    assert zero.hard.sum() == 0 and zero.masked.sum() == M
    assert zero.recon is None
    full = inferencer(img, alpha=1.0)[0]
    assert full.hard.sum() == M
    a, b = inferencer(img, seed=1)[0], inferencer(img, seed=1)[0]
    np.testing.assert_array_equal(a.masked, b.masked)
    masks = {inferencer(img, seed=s)[0].masked.tobytes() for s in range(8)}
    assert len(masks) > 1  # the random part follows the seed
    torch.manual_seed(123)
    inferencer(img, seed=5)
    after = torch.rand(3)
    torch.manual_seed(123)
    np.testing.assert_array_equal(after, torch.rand(3))  # global RNG kept
    with pytest.raises(ValueError, match='alpha must be in'):
        inferencer(img, alpha=1.5)


def test_built_model_and_folder(files, tmp_path):
    model = tiny_model()
    inferencer = HardPatchInferencer(model)
    folder = tmp_path / 'imgs'
    folder.mkdir()
    Image.open(files['images'][1]).save(folder / 'a.jpg')
    (r, ) = inferencer(str(folder), alpha=0.25)
    assert r.hard.sum() == int(M * 0.25)


def test_bad_inputs(files, tmp_path):
    with pytest.raises(CheckpointError,
                       match='checkpoint not found: .*none.pth'):
        HardPatchInferencer(files['cfg'], str(tmp_path / 'none.pth'))
    with pytest.raises(FileNotFoundError, match='none.py'):
        HardPatchInferencer(str(tmp_path / 'none.py'), files['ckpt'])
    with pytest.raises(ValueError, match='no checkpoint'):
        HardPatchInferencer(files['cfg'])
    mae = tmp_path / 'mae.py'
    mae.write_text('model = ' + repr(dict(
        type='MAE', backbone=dict(tiny_hpm_cfg()['backbone'], type='MAEViT'),
        neck=dict(tiny_hpm_cfg()['neck'], type='MAEPretrainDecoder'),
        head=dict(type='MAEPretrainHead', patch_size=16, loss=dict(
            type='PixelReconstructionLoss', criterion='L2')))))
    with pytest.raises(TypeError, match='MAE, not an HPM'):
        HardPatchInferencer(str(mae), files['ckpt'])
    # the authors' file must be converted first
    released = str(tmp_path / 'released.pth')
    torch.save(released_checkpoint(files['model']), released)
    with pytest.raises(CheckpointError, match="the checkpoint is in the "
                       "'released' format"):
        HardPatchInferencer(files['cfg'], released)
    # a checkpoint of another architecture, and one with a key missing
    other = str(tmp_path / 'other.pth')
    bigger = MODELS.build(
        tiny_hpm_cfg(neck=dict(decoder_embed_dim=32)))
    torch.save(dict(state_dict=bigger.state_dict()), other)
    with pytest.raises(CheckpointError,
                       match=r'other.pth does not fit HPM: .*width 32 in '
                       r'the checkpoint vs 16 in the model \(neck\)'):
        HardPatchInferencer(files['cfg'], other)
    partial = str(tmp_path / 'partial.pth')
    state = files['model'].state_dict()
    state.pop('neck.mask_token')
    torch.save(dict(state_dict=state), partial)
    with pytest.raises(CheckpointError,
                       match=r'1 keys missing \(e.g. neck.mask_token\)'):
        HardPatchInferencer(files['cfg'], partial)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError, match='not a PyTorch checkpoint '
                       r'\(or truncated\): .*garbage.pth'):
        HardPatchInferencer(files['cfg'], str(garbage))
    inferencer = HardPatchInferencer(files['cfg'], files['ckpt'])
    text = tmp_path / 'notes.jpg'
    text.write_text('not an image')
    with pytest.raises(OSError, match='not an image file: .*notes.jpg'):
        inferencer([files['images'][0], str(text)])
    with pytest.raises(FileNotFoundError, match='image not found'):
        inferencer(str(tmp_path / 'missing.jpg'))


def test_model_index_name(files):
    """A model name builds its model (ViT-B: the tiny checkpoint does not
    fit it)."""
    with pytest.raises(CheckpointError, match='does not fit HPM'):
        HardPatchInferencer('hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k',
                            files['ckpt'])
