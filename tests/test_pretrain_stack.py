"""Pre-training needs only mmpretrain's stack (what ``make demo`` installs).

The subprocesses hide mmdet, mmseg and mmcv's compiled ops (``mmcv._ext``,
which mmcv-lite lacks) with a meta-path finder, as in a venv set up by
``tools/setup_env.sh`` without ``--full``.
"""
import ast
import os.path as osp
import re
import subprocess
import sys
import tomllib

import pytest

from .conftest import ROOT

BLOCKER = '''
import importlib.abc
import sys
from importlib.machinery import PathFinder


class Uninstalled(importlib.abc.MetaPathFinder):
    """The path finder, except that these modules are not found: importing
    them raises ModuleNotFoundError and ``find_spec`` gives None, as when
    they are not installed."""

    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if any(name == n or name.startswith(n + '.') for n in self.names):
            return None
        return PathFinder.find_spec(name, path, target)


sys.meta_path = [
    Uninstalled({blocked!r}) if f is PathFinder else f for f in sys.meta_path
]
sys.path_importer_cache.clear()
sys.path.insert(0, {root!r})
'''

TRAIN = '''
import contextlib
import io
import os.path as osp
import runpy

try:
    import mmdet  # noqa: F401
except ImportError:
    print('mmdet is hidden')

import hpm_mm  # noqa: F401
from mmengine.config import Config
from mmengine.runner import Runner

from hpm_mm.cli import setup_train_cfg
from tests.conftest import write_imagenet, write_tiny_config

tmp = {tmp!r}
data = write_imagenet(osp.join(tmp, 'imagenet'))
cfg = Config.fromfile(
    write_tiny_config(osp.join(tmp, 'tiny.py'), data, max_epochs=2))
runner = Runner.from_cfg(setup_train_cfg(cfg, work_dir=osp.join(tmp, 'w')))
runner.train()
print('trained', runner.iter, 'iterations')
loaded = [m for m in sys.modules
          if m.split('.')[0] in ('mmdet', 'mmseg') or m == 'mmcv._ext']
print('downstream modules loaded:', loaded)
for name in ('hpm_mm.downstream.det', 'hpm_mm.downstream.seg'):
    try:
        __import__(name)
    except ImportError as e:
        print('error:', repr(str(e)))
sys.argv = ['tools/train.py', {det_config!r}, '--work-dir', tmp]
try:
    runpy.run_path('tools/train.py', run_name='__main__')
except SystemExit as e:
    print('error:', repr(str(e.code)))
convert = runpy.run_path('tools/convert_checkpoint.py')['main']
ckpt = osp.join(tmp, 'w', 'epoch_2.pth')
for to in ('mmpretrain', 'mmdet'):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = convert([ckpt, osp.join(tmp, to + '.pth'), '--to', to])
    print('convert --to', to, 'rc', rc)
    if rc:
        print('error:', repr(err.getvalue()))
'''
DET_CONFIG = osp.join(ROOT, 'configs', 'det',
                      'hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py')


def run(blocked: tuple, code: str) -> str:
    """Run ``code`` in a fresh interpreter where ``blocked`` do not import.

    Returns:
        str: Its stdout.
    """
    script = BLOCKER.format(blocked=blocked, root=ROOT) + code
    res = subprocess.run([sys.executable, '-c', script],
                         capture_output=True,
                         text=True,
                         cwd=ROOT,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def errors(stdout: str) -> list:
    """The error messages the script printed, in order."""
    return [
        ast.literal_eval(line[len('error: '):])
        for line in stdout.splitlines() if line.startswith('error: ')
    ]


def test_pretraining_without_mmdet_mmseg_or_mmcv_ops(tmp_path):
    """``import hpm_mm`` and Runner training of the tiny HPM config work
    without the downstream libraries; the downstream packages, and
    tools/train.py on a det config, then fail with one line naming what is
    missing and how to install it; the checkpoint converter works, except
    for ``--to mmdet``, which says the same."""
    out = run(('mmdet', 'mmseg', 'mmcv._ext'),
              TRAIN.format(tmp=str(tmp_path), det_config=DET_CONFIG))
    assert 'mmdet is hidden' in out  # the blocker works
    assert 'trained 4 iterations' in out  # 8 images, batch 4, 2 epochs
    assert 'downstream modules loaded: []' in out
    assert (tmp_path / 'w' / 'epoch_2.pth').is_file()
    det, seg, tool, converter = errors(out)
    for msg, extra, package, module in (
            (det, 'det', 'mmdet', 'mmdet'),
            (seg, 'seg', 'mmsegmentation', 'mmseg')):
        _names_what_to_install(msg, f'hpm_mm.downstream.{extra}', package,
                               f"No module named '{module}'", extra)
    # mmdet's metadata is still there, so mmengine resolves the `mmdet::`
    # base and fails on custom_imports, because of hpm_mm.downstream.det.
    assert tool == f'train: error: {DET_CONFIG}: {det}'
    # the converter works without them, except for --to mmdet
    assert 'convert --to mmpretrain rc 0' in out
    assert 'convert --to mmdet rc 1' in out
    assert converter == f'convert_checkpoint: error: {det}\n'


def test_downstream_needs_mmcv_with_ops():
    """mmseg installed over mmcv-lite (no compiled ops): the seg package
    says mmcv must be built with ops."""
    out = run(('mmcv._ext', ), 'import mmseg\n'
              'try:\n'
              '    import hpm_mm.downstream.seg\n'
              'except ImportError as e:\n'
              "    print('error:', repr(str(e)))\n")
    (msg, ) = errors(out)
    _names_what_to_install(msg, 'hpm_mm.downstream.seg', 'mmcv built with '
                           "ops", "No module named 'mmcv._ext'", 'seg')


def _names_what_to_install(msg: str, package: str, needs: str, why: str,
                           extra: str) -> None:
    """One line naming the package, what it needs and why, and the two
    ways to install it."""
    assert '\n' not in msg
    for name in (package, needs, why, 'make setup-full',
                 f'pip install -e .[{extra}]'):
        assert name in msg, (name, msg)


def _pins(path: str) -> dict:
    """``{name: version}`` of the ``name==version`` lines of a file."""
    pins = {}
    with open(osp.join(ROOT, path)) as f:
        for line in f:
            m = re.match(r'([A-Za-z0-9_.-]+)==(\S+)', line)
            if m:
                pins[m.group(1)] = m.group(2)
    return pins


def test_requirements_agree():
    """mmcv-lite and mmcv carry the same version, and the extras in
    pyproject.toml read requirement files that exist."""
    assert _pins('requirements/mmcv_lite.txt')['mmcv-lite'] == _pins(
        'requirements/mmcv.txt')['mmcv']
    with open(osp.join(ROOT, 'pyproject.toml'), 'rb') as f:
        dynamic = tomllib.load(f)['tool']['setuptools']['dynamic']
    files = list(dynamic['dependencies']['file'])
    extras = dynamic['optional-dependencies']
    assert set(extras) == {'lite', 'det', 'seg', 'video', 'tests'}
    for extra in extras.values():
        files += extra['file']
    for path in files:
        assert osp.isfile(osp.join(ROOT, path)), path
    # one mmcv per extra: mmcv-lite never comes with mmdet or mmseg
    assert extras['lite']['file'] == ['requirements/mmcv_lite.txt']
    for name in ('det', 'seg', 'video', 'tests'):
        assert 'requirements/mmcv_lite.txt' not in extras[name]['file']
        assert 'requirements/mmcv.txt' in extras[name]['file']


def test_load_config_names_a_missing_base_package():
    """Where mmdet is not installed at all, mmengine fails on the config's
    ``mmdet::`` base; load_config names the config and the innermost
    error, in one line."""
    from unittest import mock

    from hpm_mm.cli import load_config
    missing = ModuleNotFoundError(
        'mmdet is not installed, please install mmdet manually')
    with mock.patch('mmengine.config.Config.fromfile', side_effect=missing):
        with pytest.raises(ImportError) as exc:
            load_config('det.py')
    assert str(exc.value) == (
        'det.py: mmdet is not installed, please install mmdet manually')
    try:  # mmengine wraps a failed custom import, twice
        try:
            raise ImportError('hpm_mmm needs mmdet') from None
        except ImportError:
            raise ImportError('Failed to import hpm_mmm')
    except ImportError as err:
        wrapped = ImportError('Failed to import custom modules, sys.path: '
                              '\n    /a\n    /b')
        wrapped.__cause__ = err
    with mock.patch('mmengine.config.Config.fromfile', side_effect=wrapped):
        with pytest.raises(ImportError, match='^x.py: hpm_mmm needs mmdet$'):
            load_config('x.py')
