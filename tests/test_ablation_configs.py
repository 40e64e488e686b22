"""Every ablation config builds and trains one step on the tiny model."""
import glob
import os.path as osp

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .conftest import (ROOT, TINY_IMG, deep_update, set_progress,
                       start_iteration, tiny_model_overrides)
from .test_configs import check_recipe
from .test_feature_targets import shrink_feature_target

ABLATIONS = osp.join(ROOT, 'configs', 'pretrain', 'ablations')
CONFIGS = sorted(glob.glob(osp.join(ABLATIONS, '*.py')))


def _name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


#: What each ablation must change in the built model (the rest is the
#: default HPM ViT-B/16, 200 epochs). A new config needs an entry here.
EXPECTED = {
    'hpm_vit-b_200e_loss-pred-only':
    lambda m: m.masker.fixed_alpha == 0.0,
    'hpm_vit-b_200e_mask-hardest-from-start':
    lambda m: m.masker.ramp == 'none' and m.masker.alpha_t.item() == 0.5,
    'hpm_vit-b_200e_mask-hard-to-easy':
    lambda m: m.masker.ramp == 'down',
    'hpm_vit-b_200e_mask-easiest':
    lambda m: m.masker.mine == 'easy' and m.masker.ramp == 'up',
    'hpm_vit-b_200e_alpha-max-0.25': lambda m: m.masker.alpha_max == 0.25,
    'hpm_vit-b_200e_alpha-max-0.75': lambda m: m.masker.alpha_max == 0.75,
    'hpm_vit-b_200e_alpha-max-1.0': lambda m: m.masker.alpha_max == 1.0,
    'hpm_vit-b_200e_loss-pred-absolute':
    lambda m: m.head.loss_pred.mode == 'absolute',
    'hpm_vit-b_200e_norm-pix': lambda m: m.head.norm_pix,
    'hpm_vit-b_200e_clip-target':
    lambda m: type(m.target_generator).__name__ == 'CLIPFeatureTarget',
    'hpm_vit-b_200e_dino-target':
    lambda m: type(m.target_generator).__name__ == 'DINOFeatureTarget',
    'hpm_vit-b_200e_ema-target':
    lambda m: type(m.target_generator).__name__ == 'EMAFeatureTarget',
    'mae_vit-b_200e': lambda m: type(m).__name__ == 'MAE',
}


#: Settings of ours, not switches of the authors' code: labelled
#: exploratory in the docs' table and in their metafile entries.
EXPLORATORY = {
    'hpm_vit-b_200e_alpha-max-0.25', 'hpm_vit-b_200e_alpha-max-0.75',
    'hpm_vit-b_200e_alpha-max-1.0', 'hpm_vit-b_200e_mask-hard-to-easy',
    'hpm_vit-b_200e_mask-easiest'
}
DOCS = osp.join(ROOT, 'docs', 'en', 'pretraining.md')


def test_every_ablation_is_checked_and_documented():
    """Each ablation config has an expected change, a row in the docs'
    ablation tables and a metafile entry; exactly the exploratory ones are
    labelled exploratory in both."""
    names = [_name(p) for p in CONFIGS]
    assert sorted(names) == sorted(EXPECTED)
    assert EXPLORATORY <= set(names)
    with open(DOCS) as f:
        rows = [line for line in f if line.startswith('|')]
    with open(osp.join(ROOT, 'configs', 'pretrain', 'metafile.yml')) as f:
        entries = {m['Name']: m for m in yaml.safe_load(f)['Models']}
    for path in CONFIGS:
        name, rel = _name(path), osp.relpath(path, ROOT)
        (row, ) = [r for r in rows if f'`{rel}`' in r]
        assert ('exploratory' in row.lower()) == (name in EXPLORATORY), row
        note = entries[name].get('Note', '')
        assert note.startswith('Exploratory') == (name in EXPLORATORY), name
        assert entries[name]['Config'] == rel


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_ablation_builds_and_trains_one_step(path, tmp_path, message_hub):
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.param_scheduler[-1].end == 200
    name = _name(path)
    set_progress(message_hub, epoch=0, max_epochs=200)
    torch.manual_seed(0)
    check_recipe(cfg, path)
    deep_update(cfg.model, tiny_model_overrides())
    shrink_feature_target(cfg.model, tmp_path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if hasattr(model, 'masker'):
        start_iteration(model, message_hub)
    assert EXPECTED[name](model), name
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    # a batch as the configs' default_collate gives it
    data = dict(
        inputs=torch.randint(0, 256, (2, 3, TINY_IMG, TINY_IMG),
                             dtype=torch.uint8),
        data_samples=[DataSample() for _ in range(2)])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    log = model.train_step(data, optim)
    assert torch.isfinite(log['loss']), name
    moved = [k for k, v in model.state_dict().items()
             if not torch.equal(v, before[k])]
    assert any(k.startswith('backbone.') for k in moved), name
    if hasattr(model, 'teacher'):
        assert any('losspred' in k for k in moved), name
