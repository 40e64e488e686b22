"""tools/test.py --out / --show-dir on the tiny cls, det and seg setups, and
tools/dist_test.sh (2 CPU processes) / tools/slurm_test.sh."""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest

from hpm_mm.testing import (no_workers, shrink_cls, shrink_det, shrink_seg,
                            write_ade20k, write_coco, write_imagenet)

from ..conftest import ROOT
from .helpers import config, convert, load_tool

CLS = 'configs/cls/hpm_vit-base-p16_8xb48-coslr-100e_in1k.py'
DET = 'configs/det/hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py'
SEG = 'configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py'


@pytest.fixture(autouse=True)
def _fresh_visualizers():
    """mmengine keeps visualizers by name per process, and the mmdet/mmseg
    configs name theirs 'visualizer': a later Runner in the same process
    would get an earlier test's (its save dir, or another library's class).
    Each test here starts without any, as a fresh tools/test.py process."""
    from mmengine.visualization import Visualizer

    def family(cls):
        yield cls
        for sub in cls.__subclasses__():
            yield from family(sub)

    saved = {c: c._instance_dict.copy() for c in set(family(Visualizer))}
    for cls in saved:
        cls._instance_dict.clear()
    yield
    for cls, instances in saved.items():
        cls._instance_dict.clear()
        cls._instance_dict.update(instances)


def _cls_config(tmp_path, hpm_ckpt) -> str:
    root = write_imagenet(str(tmp_path / 'imagenet'))
    cfg = shrink_cls(config(CLS), hpm_ckpt, root)
    no_workers(cfg)
    path = str(tmp_path / 'cls.py')
    cfg.dump(path)
    return path


def _det_config(tmp_path, hpm_ckpt) -> str:
    root = write_coco(str(tmp_path / 'coco'))
    ckpt = convert(hpm_ckpt, str(tmp_path / 'det.pth'), 'mmdet')
    cfg = shrink_det(config(DET), ckpt, root)
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # untrained: keep detections
    no_workers(cfg)
    path = str(tmp_path / 'det.py')
    cfg.dump(path)
    return path


def _seg_config(tmp_path, hpm_ckpt) -> str:
    root = write_ade20k(str(tmp_path / 'ade'), width=128, height=96)
    cfg = shrink_seg(config(SEG), hpm_ckpt, root)
    no_workers(cfg)
    path = str(tmp_path / 'seg.py')
    cfg.dump(path)
    return path


def _images(folder: str) -> list:
    return [p for p in glob.glob(osp.join(folder, '**', '*'), recursive=True)
            if p.endswith(('.png', '.jpg'))]


def _fitting_checkpoint(cfg_path: str, tmp_path) -> str:
    """A checkpoint of the config's own model: tools/test.py refuses one
    that does not fit (CheckpointKeysHook), e.g. the pre-training one."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(cfg_path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    path = str(tmp_path / 'fitting.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def _run_test_tool(cfg: str, ckpt: str, tmp_path, *extra) -> None:
    load_tool('test').main(
        [cfg, ckpt, '--work-dir', str(tmp_path / 'work'), *extra])


def test_cls_out_and_show_dir(tmp_path, hpm_ckpt):
    cfg = _cls_config(tmp_path, hpm_ckpt)
    ckpt = _fitting_checkpoint(cfg, tmp_path)
    pkl, vis = str(tmp_path / 'pred.pkl'), str(tmp_path / 'vis')
    _run_test_tool(cfg, ckpt, tmp_path, '--out', pkl, '--show-dir', vis)
    with open(pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4  # the val split: 2 classes x 2 images
    assert all(p['pred_score'].shape == (1000, ) for p in preds)
    assert len(_images(vis)) == 4

    metrics = str(tmp_path / 'metrics.json')
    _run_test_tool(cfg, ckpt, tmp_path, '--out', metrics, '--out-item',
                   'metrics')
    with open(metrics) as f:
        assert set(json.load(f)) == {'accuracy/top1', 'accuracy/top5'}


def test_det_out_and_show_dir(tmp_path, hpm_ckpt):
    cfg = _det_config(tmp_path, hpm_ckpt)
    pkl, vis = str(tmp_path / 'pred.pkl'), str(tmp_path / 'vis')
    _run_test_tool(cfg, _fitting_checkpoint(cfg, tmp_path), tmp_path,
                   '--out', pkl, '--show-dir', vis)
    with open(pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2  # val2017: 2 images
    for p in preds:
        inst = p['pred_instances']
        assert inst['bboxes'].shape[1] == 4
        assert isinstance(inst['masks'][0], dict)  # RLE, as mmdet dumps
    assert len(_images(vis)) == 2


def test_seg_out_and_show_dir(tmp_path, hpm_ckpt):
    cfg = _seg_config(tmp_path, hpm_ckpt)
    out, vis = str(tmp_path / 'pred'), str(tmp_path / 'vis')
    _run_test_tool(cfg, _fitting_checkpoint(cfg, tmp_path), tmp_path,
                   '--out', out, '--show-dir', vis)
    assert len(glob.glob(osp.join(out, '*.png'))) == 2  # label maps
    assert len(_images(vis)) == 2  # VIS/vis_data/vis_image/*.png


def test_out_must_be_a_pickle_for_cls(tmp_path, hpm_ckpt):
    cfg = _cls_config(tmp_path, hpm_ckpt)
    with pytest.raises(SystemExit, match='--out must be a .pkl file'):
        _run_test_tool(cfg, hpm_ckpt, tmp_path, '--out',
                       str(tmp_path / 'x.json'))


def test_dist_test_two_cpu_processes(tmp_path, hpm_ckpt):
    cfg = _cls_config(tmp_path, hpm_ckpt)
    pkl = tmp_path / 'pred.pkl'
    env = dict(os.environ, PORT='29519', OMP_NUM_THREADS='1',
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ['PATH'])
    env.pop('PYTHONPATH', None)
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_test.sh'), cfg,
         _fitting_checkpoint(cfg, tmp_path), '2', '--work-dir', str(tmp_path / 'work'), '--out', str(pkl)],
        capture_output=True, text=True, env=env, timeout=600,
        cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = open(glob.glob(str(tmp_path / 'work' / '*' / '*.log'))[0]).read()
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log
    assert 'accuracy/top1' in log
    with open(pkl, 'rb') as f:
        assert len(pickle.load(f)) == 4  # gathered from both ranks


def test_slurm_test_builds_the_srun_command(tmp_path):
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'srun').write_text('#!/bin/sh\nprintf "%s\\n" "$@" > '
                               f'{tmp_path}/srun_args\n')
    (fake / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{fake}{os.pathsep}{os.environ["PATH"]}',
               GPUS='16', GPUS_PER_NODE='8', SRUN_ARGS='--qos=high')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'slurm_test.sh'), 'gpu', 'hpm',
         CLS, 'ckpt.pth', '--out', 'r.pkl'],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = (tmp_path / 'srun_args').read_text().split('\n')
    assert args[:2] == ['-p', 'gpu']
    for flag in ('--job-name=hpm', '--gres=gpu:8', '--ntasks=16',
                 '--ntasks-per-node=8', '--kill-on-bad-exit=1', '--qos=high'):
        assert flag in args
    i = args.index('-u')
    assert args[i + 1] == osp.join(ROOT, 'tools', 'test.py')
    assert args[i + 2:i + 8] == [
        CLS, 'ckpt.pth', '--launcher', 'slurm', '--out', 'r.pkl'
    ]
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'slurm_test.sh'), 'gpu', 'hpm',
         CLS], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and 'usage:' in proc.stderr
