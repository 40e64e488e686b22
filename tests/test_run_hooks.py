"""What a run needs beyond the stock stack lives in hooks, a file backend
and entry points: importing hpm_mm patches nothing; the allow-list hook
lets mmengine's Runner (also in mmpretrain's own tools/train.py) resume
weights-only; the atomic file backend keeps the earlier checkpoints and
stops in one line on a full disk; an unwritable work dir fails before
training."""
import errno
import glob
import io
import os
import os.path as osp
import pickle
import re
import subprocess
import sys

import mmpretrain
import numpy as np
import pytest
import torch
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.logging import HistoryBuffer, MessageHub

from hpm_mm.converters import mmengine_safe_globals
from hpm_mm.engine import CheckpointSafeGlobalsHook
from hpm_mm.fileio import AtomicLocalBackend, OutputWriteError

from .conftest import (ROOT, load_ckpt, pythonpath_with_sitecustomize,
                       write_tiny_config)

TRAIN = osp.join(ROOT, 'tools', 'train.py')
MMPRETRAIN_TRAIN = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')

IMPORT_CHECK = '''
import runpy

import mmengine.dist.utils as dist_utils
import mmengine.runner.checkpoint as checkpoint_module
import mmengine.runner.runner as runner_module
import torch


def _origin(entry):
    fn = entry[0] if isinstance(entry, tuple) else entry
    return getattr(fn, '__module__', '').split('.')[0]


def seen():
    # torch adds its own types (DTensor, exceptions...) as its modules load
    return dict(
        safe_globals={
            repr(g) for g in torch.serialization.get_safe_globals()
            if _origin(g) not in ('torch', 'builtins', 'traceback')
        },
        runner_save_checkpoint=runner_module.save_checkpoint,
        checkpoint_save_checkpoint=checkpoint_module.save_checkpoint,
        init_dist_pytorch=dist_utils._init_dist_pytorch)


before = seen()
import hpm_mm  # noqa: E402,F401
import hpm_mm.cli  # noqa: E402,F401
for tool in ('train', 'test', 'knn_eval'):  # what the entry points import
    runpy.run_path(f'tools/{tool}.py', run_name='not_main')
after = seen()
print('changed:', [k for k in before if before[k] != after[k]])
import io  # noqa: E402
import pickle  # noqa: E402

from mmengine.logging import MessageHub  # noqa: E402

buf = io.BytesIO()
hub = MessageHub.get_instance('import_check')
hub.update_scalar('loss', 1.0)
torch.save(hub.state_dict(), buf)
buf.seek(0)
try:
    torch.load(buf, weights_only=True)
    print('weights-only load of a HistoryBuffer: accepted')
except pickle.UnpicklingError:
    print('weights-only load of a HistoryBuffer: refused')
from mmengine.fileio import get_file_backend  # noqa: E402
from mmpretrain.registry import HOOKS  # noqa: E402
print('registered:', [k for k in ('PreemptionHook',
                                  'CheckpointSafeGlobalsHook')
                      if k in HOOKS.module_dict],
      type(get_file_backend(backend_args=dict(backend='atomic_local'))))
'''


def test_import_changes_nothing_but_registries():
    proc = subprocess.run([sys.executable, '-c', IMPORT_CHECK], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'changed: []' in proc.stdout.splitlines()
    assert ('weights-only load of a HistoryBuffer: refused'
            in proc.stdout.splitlines())
    assert ("registered: ['PreemptionHook', 'CheckpointSafeGlobalsHook'] "
            "<class 'hpm_mm.fileio.AtomicLocalBackend'>"
            ) in proc.stdout.splitlines()


CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_every_config_uses_the_hooks(path):
    """Each config writes checkpoints through the atomic backend, and its
    custom hooks, found from the config's default scope (mmpretrain, mmdet
    or mmseg), install the allow-list, keep RNG states and stop on
    SIGTERM."""
    from mmengine.config import Config
    from mmengine.registry import HOOKS, DefaultScope
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        hooks = [type(HOOKS.build(dict(h))).__name__
                 for h in cfg.custom_hooks]
        checkpoint = HOOKS.build(dict(cfg.default_hooks.checkpoint))
    assert type(checkpoint).__name__ == 'CheckpointHook'
    assert checkpoint.backend_args == dict(backend='atomic_local')
    for name in ('CheckpointSafeGlobalsHook', 'RNGStateHook',
                 'PreemptionHook'):
        assert name in hooks


def _hub_checkpoint() -> bytes:
    hub = MessageHub.get_instance('hpm_test_safe_globals')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('eta', np.float64(3.0))
    buf = io.BytesIO()
    torch.save({'message_hub': hub.state_dict(), 'x': np.arange(3)}, buf)
    return buf.getvalue()


def _load(data: bytes) -> dict:
    return torch.load(io.BytesIO(data), weights_only=True)


def test_allow_list_reads_message_hub_state():
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        state = _load(_hub_checkpoint())
    restored = state['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.current() == 1.5
    assert restored.statistics('mean') == 1.5


class _Sneaky:
    """Pickles as getattr(HistoryBuffer, '__init__'): must be refused."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_other_getattr_is_refused():
    buf = io.BytesIO()
    torch.save({'evil': _Sneaky()}, buf)
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        with pytest.raises(pickle.UnpicklingError, match='refused'):
            _load(buf.getvalue())


@pytest.fixture
def no_safe_globals():
    """The process's allow-list emptied for the test, then restored."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


def test_safe_globals_hook_allows_during_the_run_only(no_safe_globals):
    data = _hub_checkpoint()
    torch.serialization.add_safe_globals([np.ndarray])  # someone else's
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        _load(data)
    hook = CheckpointSafeGlobalsHook()
    hook.before_run(None)
    assert isinstance(_load(data)['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)
    hook.after_run(None)
    assert torch.serialization.get_safe_globals() == [np.ndarray]
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        _load(data)


def _env(**extra) -> dict:
    return {**os.environ, 'PYTHONPATH': ROOT, 'OMP_NUM_THREADS': '1',
            **extra}


def test_a_read_during_the_run_keeps_the_runs_allow_list(no_safe_globals,
                                                        tmp_path):
    """hpm_mm's reader inside a run (an init_cfg checkpoint, read before
    the Runner resumes) must not take the hook's allow-list away, as
    torch's own safe_globals context manager would on exit."""
    from hpm_mm.converters import read_checkpoint
    data = _hub_checkpoint()
    path = str(tmp_path / 'hub.pth')
    with open(path, 'wb') as f:
        f.write(data)
    hook = CheckpointSafeGlobalsHook()
    hook.before_run(None)
    read_checkpoint(path)  # allows the same types for its own read
    assert isinstance(_load(data)['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)  # still allowed: the run can resume
    hook.after_run(None)
    assert torch.serialization.get_safe_globals() == []
    read_checkpoint(path)  # on its own it needs nothing installed
    assert torch.serialization.get_safe_globals() == []


def test_mmpretrain_train_script_resumes(tiny_imagenet, tmp_path):
    """mmpretrain's own tools/train.py (`mim train mmpretrain`) resumes an
    hpm_mm config weights-only: the config's hooks are all it needs."""
    work = str(tmp_path / 'work')
    for epochs, extra in ((2, []), (3, ['--resume'])):
        cfg = write_tiny_config(str(tmp_path / f'tiny{epochs}.py'),
                                tiny_imagenet, max_epochs=epochs)
        proc = subprocess.run(
            [sys.executable, MMPRETRAIN_TRAIN, cfg, '--work-dir', work,
             *extra], capture_output=True, text=True, env=_env(),
            timeout=600, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 2, iter: 4' in proc.stdout + proc.stderr
    ckpt = load_ckpt(osp.join(work, 'epoch_3.pth'))
    assert int(ckpt['state_dict']['teacher.steps']) == 6


# Test-only fault injection, loaded by the child through PYTHONPATH: the
# write of any file whose name contains `epoch_2` puts half of its bytes
# on the disk and then fails as a full disk does.
FULL_DISK = '''
import errno
import os

from mmengine.fileio.backends import local_backend

_put = local_backend.LocalBackend.put


def put(self, obj, filepath):
    if 'epoch_2' in os.path.basename(str(filepath)):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _put(self, obj, filepath)


local_backend.LocalBackend.put = put
'''


def test_full_disk_keeps_earlier_checkpoints_and_says_so(tiny_imagenet,
                                                         tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                            max_epochs=3)
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, TRAIN, cfg, '--work-dir', work, '--cfg-options',
         'default_hooks.checkpoint.max_keep_ckpts=1'],
        capture_output=True, text=True, timeout=600,
        env=_env(PYTHONPATH=pythonpath_with_sitecustomize(
            tmp_path, FULL_DISK)))
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    first = osp.join(work, 'epoch_1.pth')
    message = proc.stderr.splitlines()[-1]
    match = re.fullmatch(
        re.escape(f'train: error: cannot write {work}/epoch_2.pth: No space '
                  'left on device (needs ') + r'([0-9.]+) MiB, [0-9.]+ MiB' +
        re.escape(f' free in {work}); earlier files are kept'), message)
    assert match, message
    assert float(match[1]) == pytest.approx(osp.getsize(first) / 2**20,
                                            abs=0.1)
    # epoch 1 is kept (max_keep_ckpts=1 would have removed it before the
    # write) and complete; no partial epoch 2 under any name
    names = os.listdir(work)
    assert 'epoch_1.pth' in names
    assert [n for n in names if 'epoch_2' in n or 'part' in n] == []
    assert load_ckpt(first)['meta']['epoch'] == 1
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == first


def test_atomic_backend_removes_after_the_next_complete_write(
        tmp_path, monkeypatch):
    backend = get_file_backend(backend_args=dict(backend='atomic_local'))
    old, new = tmp_path / 'epoch_1.pth', tmp_path / 'epoch_2.pth'
    (tmp_path / '.epoch_9.pth.part-1').write_bytes(b'half')  # a killed run
    (tmp_path / '.scores.json.part-1').write_text('{')  # another writer
    backend.put(b'one', old)
    assert sorted(os.listdir(tmp_path)) == ['.scores.json.part-1',
                                            'epoch_1.pth']
    backend.remove(old)  # what max_keep_ckpts does before it saves
    assert old.read_bytes() == b'one'
    backend.put(b'two', new)
    assert not old.exists() and new.read_bytes() == b'two'

    def full(self, obj, path):
        with open(path, 'wb') as f:
            f.write(obj[:1])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(LocalBackend, 'put', full)
    backend.remove(new)
    with pytest.raises(OutputWriteError) as err:
        backend.put(b'x' * 3 * 2**19, tmp_path / 'epoch_3.pth')
    assert str(err.value).startswith(
        f'cannot write {tmp_path}/epoch_3.pth: No space left on device '
        '(needs 1.5 MiB, ')
    assert sorted(os.listdir(tmp_path)) == ['.scores.json.part-1',
                                            'epoch_2.pth']
    AtomicLocalBackend.pending_removals.clear()


def test_unwritable_work_dir_fails_before_training(tiny_imagenet, tmp_path):
    cfg = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet)
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    work = str(blocker / 'work')
    proc = subprocess.run([sys.executable, TRAIN, cfg, '--work-dir', work],
                          capture_output=True, text=True, env=_env(),
                          timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f'train: error: work_dir is not writable: {work} (Not a directory)')
    assert not glob.glob(str(tmp_path / '**' / '*.log'), recursive=True)
