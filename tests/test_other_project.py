"""HPM from another project: a config in its own folder that inherits
mmpretrain's MAE recipe, imports hpm_mm and names a tiny HPM, with no
hpm_mm hook, trained by mmpretrain's own ``tools/train.py`` (what
``mim train mmpretrain`` runs). alpha_t ramps over the epochs and the
teacher follows every optimizer step, gradient accumulation included."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import mmpretrain
import pytest
import torch

from .conftest import ROOT, TINY_IMG, load_ckpt, tiny_hpm_cfg, write_imagenet

MMPRETRAIN_TRAIN = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
EPOCHS, IMAGES, BATCH = 3, 8, 4  # 2 iterations per epoch

OTHER_PROJECT = '''
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
custom_imports = dict(imports=['hpm_mm'], allow_failed_imports=False)
model = dict(_delete_=True, **{model!r})
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    # mmengine gives the mmpretrain:: base's collate_fn a _scope_ key that
    # default_collate refuses: restate it without the base's keys
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(data_root={data_root!r}, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale={size},
             crop_ratio_range=(0.2, 1.0), backend='pillow',
             interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs')]))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', accumulative_counts={accumulate},
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95),
                   weight_decay=0.05))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_cfg = dict(max_epochs={epochs})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=-1))
log_processor = dict(window_size=1)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
'''


def logged_alpha(work: str) -> list:
    """The ``alpha`` logged at each iteration, in order."""
    (scalars, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        rows = [json.loads(line) for line in f]
    return [row['alpha'] for row in rows if 'alpha' in row]


@pytest.mark.parametrize('accumulate', [1, 2])
def test_mmpretrain_train_script_trains_hpm_without_a_hook(
        tmp_path, accumulate):
    project = tmp_path / 'other_project'
    project.mkdir()
    data = write_imagenet(str(tmp_path / 'imagenet'), num_classes=2,
                          per_class=IMAGES // 2)
    cfg = project / 'hpm_tiny.py'
    cfg.write_text(OTHER_PROJECT.format(
        model=tiny_hpm_cfg(), batch=BATCH, data_root=data, size=TINY_IMG,
        accumulate=accumulate, epochs=EPOCHS))
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, MMPRETRAIN_TRAIN, str(cfg), '--work-dir', work],
        capture_output=True, text=True, cwd=str(project), timeout=600,
        env={**os.environ, 'PYTHONPATH': ROOT, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stderr[-3000:]

    # alpha_t = 0.5 (e + 1) / E in every iteration of epoch e (0-based)
    iters = IMAGES // BATCH
    assert logged_alpha(work) == pytest.approx(
        [0.5 * (i // iters + 1) / EPOCHS for i in range(EPOCHS * iters)],
        abs=1e-4)
    # one teacher update per optimizer step, and the weights moved with it
    steps_per_epoch = iters // accumulate
    teachers = []
    for epoch in range(1, EPOCHS + 1):
        state = load_ckpt(osp.join(work, f'epoch_{epoch}.pth'))['state_dict']
        assert int(state['teacher.steps']) == epoch * steps_per_epoch
        teachers.append({k: v for k, v in state.items()
                         if k.startswith('teacher.module.')})
    assert len(teachers[0]) > 50
    for before, after in zip(teachers, teachers[1:]):
        moved = [not torch.equal(v, after[k]) for k, v in before.items()
                 if v.is_floating_point()]
        assert sum(moved) > len(moved) / 2
