"""The model index: metafiles, mmpretrain's ModelHub and API, openmim's
layout, and the OpenMMLab-named pre-training configs with their aliases."""
import collections
import glob
import os.path as osp

import mmpretrain
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
from modelindex.load_model_index import load
from PIL import Image

from hpm_mm.apis import MIM_ROOT, MODEL_INDEX
from hpm_mm.converters import mmengine_safe_globals
from hpm_mm.testing import ARCH, tiny_model_overrides

from .conftest import ROOT, build_tiny_hpm
from .downstream.helpers import save_hpm_checkpoint

#: Configs without an entry: the CPU demos, the template for your own
#: images, and the short aliases.
NO_ENTRY = ('configs/pretrain/hpm_vit-demo_cpu.py',
            'configs/pretrain/hpm_vit-video-demo_cpu.py',
            'configs/pretrain/hpm_vit-b_custom-folder.py')
ALIASES = {
    'configs/pretrain/hpm_vit-b.py':
    'configs/pretrain/hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py',
    'configs/pretrain/hpm_vit-b_200e.py':
    'configs/pretrain/hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py',
    'configs/pretrain/hpm_vit-l.py':
    'configs/pretrain/hpm_vit-large-p16_8xb256-amp-coslr-800e_in1k.py',
    'configs/pretrain/mae_vit-b.py':
    'configs/pretrain/mae_vit-base-p16_8xb256-amp-coslr-800e_in1k.py',
}
#: The paper's numbers (HPM's official README, 800-epoch pre-training).
PAPER = {
    'vit-base-p16_hpm-800e-pre_8xb48-coslr-100e_in1k': ('Top 1 Accuracy',
                                                         84.2),
    'vit-large-p16_hpm-800e-pre_8xb64-coslr-50e_in1k': ('Top 1 Accuracy',
                                                         85.8),
    'upernet_vit-base-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-512x512':
    ('mIoU', 48.5),
    'upernet_vit-large-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-512x512':
    ('mIoU', 54.6),
}
PRETRAIN = 'hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k'
TINY_NECK = tiny_model_overrides()['neck']


def index_models():
    """The models as openmim and mmpretrain read them: hpm_mm/.mim."""
    index = load(MODEL_INDEX)
    index.build_models_with_collections()
    return index.models


def test_every_config_has_exactly_one_entry():
    configs = sorted(
        osp.relpath(p, ROOT) for p in glob.glob(
            osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p.split(osp.sep))
    listed = collections.Counter()
    for model in index_models():
        path = osp.join(MIM_ROOT, model.config)
        assert osp.isfile(path), f'{model.name}: no config {model.config}'
        listed[osp.relpath(osp.realpath(path), ROOT)] += 1
    for cfg in configs:
        if cfg in NO_ENTRY or cfg in ALIASES:
            assert listed[cfg] == 0, cfg
        else:
            assert listed[cfg] == 1, f'{cfg}: {listed[cfg]} metafile entries'
    assert set(listed) <= set(configs)


def test_schema_and_paper_results():
    models = {m.name: m for m in index_models()}
    for name, model in models.items():
        assert model.in_collection in ('HPM', 'MAE', 'VideoMAE'), name
        assert model.metadata.data, name
        for down in model.data.get('Downstream', []):
            assert down in models, f'{name}: unknown downstream {down}'
        if model.results:
            assert "the paper's" in model.data.get('Note', ''), name
    for name, (metric, value) in PAPER.items():
        (result, ) = models[name].results
        assert result.metrics == {metric: value}
    # the paper's ViT-L ADE20K number comes with a recipe it does not publish
    vit_l_seg = models[
        'upernet_vit-large-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-512x512']
    assert 'does not publish' in vit_l_seg.data['Note']
    released = [m for m in models.values() if 'Converted From' in m.data]
    assert {m.name for m in released} == {
        PRETRAIN, 'hpm_vit-large-p16_8xb256-amp-coslr-800e_in1k'}
    assert all(m.weights is None for m in models.values())  # nothing fetched


def test_mim_layout():
    """openmim reads <package>/.mim/model-index.yml, the metafiles and
    configs relative to .mim, and runs .mim/tools/train.py."""
    import hpm_mm
    assert MIM_ROOT == osp.join(osp.dirname(hpm_mm.__file__), '.mim')
    for name in ('model-index.yml', 'tools/train.py', 'tools/test.py'):
        assert osp.isfile(osp.join(MIM_ROOT, name)), name
    import yaml
    with open(MODEL_INDEX) as f:
        imports = yaml.safe_load(f)['Import']
    assert imports
    for meta in imports:
        assert osp.isfile(osp.join(MIM_ROOT, meta)), meta


def test_list_models_and_modelhub():
    names = {m.name for m in index_models()}
    assert names <= set(mmpretrain.list_models())
    hpm = set(mmpretrain.list_models('*hpm*'))
    assert {n for n in names if 'hpm' in n} == hpm
    assert 'hpm_vit-base-p16_headless' in mmpretrain.list_models(
        '*hpm*', task='null')
    assert set(mmpretrain.list_models(
        '*hpm*', task='Image Classification')) == {
            'vit-base-p16_hpm-800e-pre_8xb48-coslr-100e_in1k',
            'vit-large-p16_hpm-800e-pre_8xb64-coslr-50e_in1k'}
    # registering again (a second import path) is a no-op, not a conflict
    from hpm_mm.apis import register_hpm_models
    register_hpm_models()


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    """A tiny HPM (ViT 32 wide, 64 px, patch 16) whose teacher differs from
    its student, saved as CheckpointHook does."""
    model = build_tiny_hpm(distinct_teacher=True)
    path = tmp_path_factory.mktemp('index') / 'tiny.pth'
    return model, save_hpm_checkpoint(model, str(path))


def tiny_kwargs():
    return dict(backbone=dict(arch=dict(ARCH, _delete_=True), img_size=64),
                neck=TINY_NECK)


def test_get_model_loads_a_local_checkpoint(tiny_ckpt):
    model, ckpt = tiny_ckpt
    # a training checkpoint (message hub, numpy meta) needs the allow-list
    # for mmengine's weights-only torch.load; importing hpm_mm installs none
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        built = mmpretrain.get_model(PRETRAIN, pretrained=ckpt, device='cpu',
                                     **tiny_kwargs())
    assert type(built).__name__ == 'HPM'
    want = model.state_dict()
    got = built.state_dict()
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key


def test_feature_extractor_student_and_teacher(tiny_ckpt, tmp_path):
    model, ckpt = tiny_ckpt
    img = str(tmp_path / 'img.jpg')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)).save(
        img)
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        extractor = mmpretrain.FeatureExtractor(
            'hpm_vit-base-p16_headless', pretrained=ckpt, device='cpu',
            **tiny_kwargs())
    # one result per image: the tuple of HPMViT outputs
    ((student, ), ) = extractor(img)
    ((teacher, ), ) = extractor(img, source='teacher')
    # 256-short-side resize, 224 centre crop: 14 x 14 patches + cls token
    assert student.shape == teacher.shape == (1 + 14 * 14, 32)
    data = next(extractor.preprocess([img]))
    x = extractor.model.data_preprocessor(data, False)['inputs']
    model.eval()
    with torch.no_grad():
        want_s = model.backbone(x, mask=None)[0][0]
        want_t = model.teacher.module.backbone(x, mask=None)[0][0]
    torch.testing.assert_close(student, want_s)
    torch.testing.assert_close(teacher, want_t)
    assert not torch.allclose(student, teacher, atol=1e-3)
    with pytest.raises(ValueError, match="source must be 'student'"):
        extractor(img, source='ema')


def test_inference_model_on_a_classifier_entry(tmp_path):
    name = 'vit-base-p16_hpm-800e-pre_8xb48-coslr-100e_in1k'

    def tiny():  # fresh: merging pops `_delete_`
        return dict(backbone=dict(arch=dict(ARCH, _delete_=True)),
                    head=dict(in_channels=32))

    torch.manual_seed(0)
    classifier = mmpretrain.get_model(name, **tiny())
    with torch.no_grad():
        classifier.head.fc.bias.zero_()
        classifier.head.fc.bias[7] = 100.0  # class 7 wins on any image
    ckpt = str(tmp_path / 'cls.pth')
    torch.save(dict(state_dict=classifier.state_dict()), ckpt)
    img = str(tmp_path / 'img.jpg')
    Image.new('RGB', (240, 260), (120, 30, 200)).save(img)
    model = mmpretrain.get_model(name, pretrained=ckpt, **tiny())
    result = mmpretrain.inference_model(model, img)
    assert result['pred_label'] == 7
    assert result['pred_class'] == IMAGENET_CATEGORIES[7]


@pytest.mark.parametrize('alias', sorted(ALIASES))
def test_short_names_are_aliases(alias):
    """The short names set nothing: same config as the OpenMMLab name."""
    short = Config.fromfile(osp.join(ROOT, alias)).to_dict()
    full = Config.fromfile(osp.join(ROOT, ALIASES[alias])).to_dict()
    assert short == full
    text = open(osp.join(ROOT, alias)).read()
    code = [ln for ln in text.splitlines()
            if ln.strip() and not ln.startswith('#')]
    assert code == [f"_base_ = ['./{osp.basename(ALIASES[alias])}']"]
