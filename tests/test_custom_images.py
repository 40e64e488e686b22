"""Pre-training on your own images: configs/pretrain/hpm_vit-b_custom-folder.py
(unlabelled, any nesting) and tools/check_dataset.py."""
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image

from .conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b_custom-folder.py')


def _photo(seed: int, size: int = 48) -> Image.Image:
    low = np.random.default_rng(seed).integers(0, 256, (4, 4, 3),
                                               dtype=np.uint8)
    return Image.fromarray(low).resize((size, size), Image.BICUBIC)


@pytest.fixture
def photo_folder(tmp_path):
    """JPEG, PNG, grayscale, CMYK and a truncated JPEG, nested, plus a
    text file that is not an image."""
    root = tmp_path / 'photos'
    files = {
        'trip/day1/rgb.jpg': (_photo(0), 'RGB'),
        'trip/rgb.PNG': (_photo(1), 'RGB'),
        'scans/gray.jpeg': (_photo(2), 'L'),
        'print/a/b/c/cmyk.jpg': (_photo(3), 'CMYK'),
    }
    for rel, (img, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.convert(mode).save(path, quality=95)
    whole = (root / 'trip' / 'day1' / 'rgb.jpg').read_bytes()
    (root / 'broken').mkdir()
    (root / 'broken' / 'corrupt.jpg').write_bytes(whole[:len(whole) // 2])
    (root / 'trip' / 'notes.txt').write_text('not an image')
    return root


def _tool():
    path = osp.join(ROOT, 'tools', 'check_dataset.py')
    spec = importlib.util.spec_from_file_location('hpm_check_dataset', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(root, capsys, *extra):
    rc = _tool().main([
        CONFIG, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}', *extra
    ])
    return rc, capsys.readouterr()


def test_check_dataset_counts_and_names_the_corrupt_file(photo_folder,
                                                         capsys):
    rc, out = _check(photo_folder, capsys)
    assert rc == 1
    assert 'checked 5 images of the train set: 4 readable, 1 unreadable' \
        in out.out
    assert 'after loading: 4 images with 3 channels' in out.out
    bad = [ln for ln in out.out.splitlines() if ln.startswith('unreadable:')]
    assert len(bad) == 1
    assert str(photo_folder / 'broken' / 'corrupt.jpg') in bad[0]
    assert 'JPEG without end-of-image marker' in bad[0]

    os.remove(photo_folder / 'broken' / 'corrupt.jpg')
    rc, out = _check(photo_folder, capsys)
    assert rc == 0
    assert '4 readable, 0 unreadable' in out.out


def test_check_dataset_bad_inputs(tmp_path, capsys):
    """One line naming what is wrong: a missing or empty folder, a config
    without the split or whose pipeline starts with no image loader."""
    (tmp_path / 'empty').mkdir()
    for root, extra, names in (
        ('nowhere', (), ('train_dataloader.dataset.data_root',
                         str(tmp_path / 'nowhere'))),
        ('empty', (), ('Found 0 files', str(tmp_path / 'empty'))),
        ('empty', ('--split', 'val'), (CONFIG, 'val_dataloader')),
        ('empty', ('--cfg-options',
                   'train_dataloader.dataset.pipeline.0.type=RandomFlip'),
         ('train_dataloader.dataset.pipeline', 'image loader')),
    ):
        with pytest.raises(SystemExit) as exc:
            _check(tmp_path / root, capsys, *extra)
        msg = str(exc.value.code)
        assert msg.startswith('check_dataset: error: ') and '\n' not in msg
        for name in names:
            assert name in msg, (name, msg)


def test_pipeline_gives_3_channel_rgb(photo_folder):
    os.remove(photo_folder / 'broken' / 'corrupt.jpg')
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.data_root = str(photo_folder)
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    paths = [dataset.get_data_info(i)['img_path']
             for i in range(len(dataset))]
    assert sorted(osp.relpath(p, photo_folder) for p in paths) == [
        'print/a/b/c/cmyk.jpg', 'scans/gray.jpeg', 'trip/day1/rgb.jpg',
        'trip/rgb.PNG'
    ]
    for i, path in enumerate(paths):
        inputs = dataset[i]['inputs']
        assert tuple(inputs.shape) == (3, 224, 224), path
        if 'gray' in path:
            assert (inputs[0] == inputs[1]).all() and \
                (inputs[1] == inputs[2]).all()
    # colours: the loader's BGR (flipped by the data preprocessor's
    # to_rgb) matches the RGB the CMYK file was made from
    load = dataset.pipeline.transforms[0]
    cmyk = load(dict(img_path=str(photo_folder / 'print/a/b/c/cmyk.jpg')))
    rgb = np.asarray(_photo(3), dtype=float)
    assert np.abs(cmyk['img'][..., ::-1] - rgb).mean() < 3
