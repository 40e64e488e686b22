"""Preemption (SIGTERM/SIGUSR1: checkpoint, exit 75, exact --resume), a dead
rank under tools/dist_train.sh (MAX_RESTARTS: the group restarts and
resumes) and Slurm requeueing (tools/slurm_train.sh, stand-in commands)."""
import glob
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from hpm_mm.cli import setup_train_cfg
from hpm_mm.engine.hooks import PREEMPTED_EXIT_CODE

from .conftest import ROOT, load_ckpt, write_imagenet, write_tiny_config
from .test_reliability import TRAIN, per_iter_losses, train_cmd

EPOCHS = 4  # 8 images: 2 iterations an epoch in 1 process (batch 4), and
#             in 2 processes with 2 images each


@HOOKS.register_module(force=True)
class SignalBeforeIter(Hook):
    """Test helper: the process sends itself ``signum`` before iteration
    ``at`` (1-based), on rank ``rank``, on a job's first start only."""

    priority = 'VERY_HIGH'

    def __init__(self, at: int, signum: int, rank: int = 0):
        self.at, self.signum, self.rank = at, signum, rank

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        first = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0') == '0'
        if runner.iter + 1 == self.at and get_rank() == self.rank and first:
            os.kill(os.getpid(), self.signum)


def _with_signal(base: str, path: str, interval: int = 10,
                 **signal_at) -> str:
    """A config: ``base`` plus SignalBeforeIter(**signal_at), the ranks
    agreeing every ``interval`` iterations."""
    cfg = Config.fromfile(base)
    hooks = [
        dict(h, interval=interval) if h['type'].endswith('PreemptionHook')
        else h for h in cfg.custom_hooks
    ]
    assert any(h['type'].endswith('PreemptionHook') for h in hooks)
    hooks.append(dict(type='mmpretrain.SignalBeforeIter', **signal_at))
    imports = list(cfg.custom_imports['imports']) + ['tests.test_preemption']
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                f'custom_imports = dict(imports={imports!r}, '
                'allow_failed_imports=False)\n'
                f'custom_hooks = {hooks!r}\n')
    return path


def _env(**extra) -> dict:
    path = osp.dirname(sys.executable) + os.pathsep + os.environ['PATH']
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
                PATH=path, **extra)  # PATH: as with an activated venv


def _run(cmd: list, **env) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=_env(**env), capture_output=True,
                          text=True, timeout=600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run_ranks(cfg: str, work: str, *extra, world: int = 2) -> list:
    """tools/train.py in ``world`` processes, as torchrun would start them."""
    port, procs, logs = str(_free_port()), [], []
    for r in range(world):
        logs.append(open(f'{work}.rank{r}.out', 'w+'))
        procs.append(subprocess.Popen(
            train_cmd(cfg, work, '--launcher', 'pytorch', *extra),
            env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                     LOCAL_WORLD_SIZE=str(world), MASTER_ADDR='127.0.0.1',
                     MASTER_PORT=port),
            stdout=logs[-1], stderr=subprocess.STDOUT))
    found = []
    for proc, log in zip(procs, logs):
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:  # a rank waits for a missing one
            for other in procs:
                other.kill()
            proc.wait()
        log.seek(0)
        found.append((proc.returncode, log.read()))
        log.close()
    return found


def _assert_same_state(path: str, ref_path: str) -> None:
    """Student, teacher (state_dict) and optimizer state equal to 1e-6."""
    got = load_ckpt(path)
    ref = load_ckpt(ref_path)
    assert got['meta']['iter'] == ref['meta']['iter']
    assert got['state_dict'].keys() == ref['state_dict'].keys()
    assert any(k.startswith('teacher.') for k in ref['state_dict'])
    for key, val in ref['state_dict'].items():
        assert torch.allclose(got['state_dict'][key].double(), val.double(),
                              atol=1e-6, rtol=0), key
    opt, ref_opt = got['optimizer']['state'], ref['optimizer']['state']
    assert opt.keys() == ref_opt.keys() and len(ref_opt) > 20
    for pid, state in ref_opt.items():
        for name, val in state.items():
            assert torch.allclose(opt[pid][name].double(), val.double(),
                                  atol=1e-6, rtol=0), (pid, name)


def _assert_same_losses(resumed: dict, expected: dict, first: int) -> None:
    assert sorted(resumed) == list(range(first, max(expected) + 1))
    for it, losses in resumed.items():
        assert losses == pytest.approx(expected[it], abs=1e-6), it


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> str:
    return write_imagenet(str(tmp_path_factory.mktemp('imagenet')))


@pytest.fixture(scope='module')
def one_process(data, tmp_path_factory):
    """The tiny config and its uninterrupted 1-process run's work dir."""
    root = tmp_path_factory.mktemp('one')
    cfg = write_tiny_config(str(root / 'tiny.py'), data, max_epochs=EPOCHS)
    ref = str(root / 'ref')
    proc = _run(train_cmd(cfg, ref))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return cfg, ref


@pytest.fixture(scope='module')
def two_processes(data, tmp_path_factory):
    """The tiny config (2 images a process) and its uninterrupted 2-process
    run's work dir."""
    root = tmp_path_factory.mktemp('two')
    cfg = write_tiny_config(str(root / 'tiny.py'), data, batch_size=2,
                            max_epochs=EPOCHS)
    ref = str(root / 'ref')
    for rc, out in _run_ranks(cfg, ref):
        assert rc == 0, out[-2000:]
    return cfg, ref


def _check_preempted(out: str, work: str, sig: signal.Signals, at: int,
                     saved: str) -> None:
    """One line names the checkpoint; it is complete and recorded."""
    path = osp.join(work, saved)
    lines = [x for x in out.splitlines() if 'preempted (' in x]
    assert len(lines) == 1, out[-3000:]
    assert lines[0].endswith(f'preempted ({sig.name}) at iter {at}: saved '
                             f'{path}; resume with --resume'), lines[0]
    assert open(osp.join(work, 'last_checkpoint')).read() == path
    assert load_ckpt(path)['meta']['iter'] == at
    assert max(per_iter_losses(work, keys=())) == at  # it stopped there
    assert not glob.glob(osp.join(work, '*.part*'))


def _preempted_run(tiny: str, tmp_path, sig: signal.Signals,
                   at: int) -> tuple:
    """One process sent ``sig`` at iteration ``at``: it exits with 75.

    Returns:
        tuple: ``(config, work_dir, stdout)`` of that run.
    """
    cfg = _with_signal(tiny, str(tmp_path / 'signal.py'), at=at,
                       signum=int(sig))
    work = str(tmp_path / 'work')
    proc = _run(train_cmd(cfg, work))
    assert proc.returncode == PREEMPTED_EXIT_CODE, proc.stderr[-3000:]
    return cfg, work, proc.stdout


def test_sigterm_saves_exits_and_resume_is_exact(one_process, tmp_path):
    """SIGTERM in the middle of an epoch: a mid-epoch checkpoint, from
    which --resume continues exactly (the epoch's remaining batches)."""
    tiny, ref = one_process
    cfg, work, out = _preempted_run(tiny, tmp_path, signal.SIGTERM,
                                    at=5)  # epoch 3's first
    _check_preempted(out, work, signal.SIGTERM, 5,
                     'preempted_iter_5.pth')

    proc = _run(train_cmd(cfg, work, '--resume'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_losses(per_iter_losses(work), per_iter_losses(ref), 6)
    _assert_same_state(osp.join(work, f'epoch_{EPOCHS}.pth'),
                       osp.join(ref, f'epoch_{EPOCHS}.pth'))


def test_sigusr1_at_an_epoch_end_then_the_epoch_ends_on_resume(
        one_process, tmp_path):
    """The checkpoint after an epoch's last batch: the resumed run ends
    that epoch (no batch left; its checkpoint), then goes on exactly."""
    tiny, ref = one_process
    cfg, work, out = _preempted_run(tiny, tmp_path, signal.SIGUSR1,
                                    at=4)  # epoch 2's last
    _check_preempted(out, work, signal.SIGUSR1, 4, 'preempted_iter_4.pth')
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))

    proc = _run(train_cmd(cfg, work, '--resume'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_losses(per_iter_losses(work), per_iter_losses(ref), 5)
    _assert_same_state(osp.join(work, 'epoch_2.pth'),
                       osp.join(ref, 'epoch_2.pth'))
    _assert_same_state(osp.join(work, f'epoch_{EPOCHS}.pth'),
                       osp.join(ref, f'epoch_{EPOCHS}.pth'))


def test_signal_to_one_rank_stops_both_at_the_same_iteration(
        two_processes, tmp_path):
    """Both ranks stop after iteration 3, and --resume goes on exactly
    (every rank's RNG states, the rest of the epoch on each rank)."""
    tiny, ref = two_processes
    cfg = _with_signal(tiny, str(tmp_path / 'signal.py'), interval=3,
                       at=2, signum=int(signal.SIGUSR1), rank=1)
    work = str(tmp_path / 'work')
    ranks = _run_ranks(cfg, work)  # the ranks agree after iteration 3
    for rc, out in ranks:  # both stopped (else one would wait for the other)
        assert rc == PREEMPTED_EXIT_CODE, out[-3000:]
    _check_preempted(ranks[0][1], work, signal.SIGUSR1, 3,
                     'preempted_iter_3.pth')
    ckpt = load_ckpt(osp.join(work, 'preempted_iter_3.pth'))
    states = ckpt['rng_state']  # one per rank, and the ranks' differ
    assert len(states) == 2 and not torch.equal(states[0]['torch'],
                                                states[1]['torch'])
    for rc, out in _run_ranks(cfg, work, '--resume'):
        assert rc == 0, out[-3000:]
    _assert_same_losses(per_iter_losses(work), per_iter_losses(ref), 4)
    _assert_same_state(osp.join(work, f'epoch_{EPOCHS}.pth'),
                       osp.join(ref, f'epoch_{EPOCHS}.pth'))


def test_dead_rank_restarts_and_resumes_exactly(two_processes, tmp_path):
    """SIGKILL of rank 1 after the first checkpoint: torchrun restarts the
    group (MAX_RESTARTS), which resumes from epoch_1.pth by itself."""
    tiny, ref = two_processes
    cfg = _with_signal(tiny, str(tmp_path / 'kill.py'), at=4,
                       signum=int(signal.SIGKILL), rank=1)
    work = str(tmp_path / 'work')
    proc = _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2',
                 '--work-dir', work], MAX_RESTARTS='1',
                PORT=str(_free_port()))
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(glob.glob(osp.join(work, '*', 'vis_data',
                                     'scalars.json')))
    assert len(runs) == 2, runs  # the first start and the restart
    first = per_iter_losses(work, run=0)
    assert sorted(first) == [1, 2, 3]  # killed in iteration 4
    _assert_same_losses(per_iter_losses(work), per_iter_losses(ref), 3)
    _assert_same_state(osp.join(work, f'epoch_{EPOCHS}.pth'),
                       osp.join(ref, f'epoch_{EPOCHS}.pth'))


@pytest.mark.parametrize('var', ['TORCHELASTIC_RESTART_COUNT',
                                 'SLURM_RESTART_COUNT'])
def test_restarted_job_resumes_from_its_work_dir(tmp_path, monkeypatch, var):
    work = tmp_path / 'work'
    work.mkdir()
    ckpt = str(work / 'epoch_3.pth')
    torch.save({'meta': {'epoch': 3, 'iter': 6}}, ckpt)

    def setup(resume=None, on_restart=True):
        cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper'),
                          env_cfg=dict(dist_cfg=dict())))
        return setup_train_cfg(cfg, work_dir=str(work), resume=resume,
                               resume_on_restart=on_restart)

    for name in ('TORCHELASTIC_RESTART_COUNT', 'SLURM_RESTART_COUNT'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(var, '0')  # a first start
    assert not setup().get('resume')
    monkeypatch.setenv(var, '2')
    cfg = setup()
    assert cfg.resume is True and cfg.load_from == ckpt
    # a restart continues from the work dir, not from where the job began
    assert setup(resume=str(tmp_path / 'nope.pth')).load_from == ckpt
    assert not setup(on_restart=False).get('resume')


def _fake_slurm(tmp_path, srun_rc: int = 0) -> dict:
    """Stand-ins for sbatch, srun and scontrol that record their args."""
    fake = tmp_path / 'bin'
    fake.mkdir(exist_ok=True)
    for name, rc in (('sbatch', 0), ('srun', srun_rc), ('scontrol', 0)):
        (fake / name).write_text(
            '#!/bin/sh\n'
            f'printf "%s\\n" "$@" > {tmp_path}/{name}_args\n'
            f'echo "HPM_TOOLS_DIR=$HPM_TOOLS_DIR" >> {tmp_path}/{name}_args\n'
            f'exit {rc}\n')
        (fake / name).chmod(0o755)
    env = dict(os.environ, PATH=f'{fake}{os.pathsep}{os.environ["PATH"]}',
               REQUEUE='1', GPUS='16', GPUS_PER_NODE='8')
    env.pop('SLURM_JOB_ID', None)
    return env


def _args(tmp_path, name: str) -> list:
    path = tmp_path / f'{name}_args'
    return path.read_text().split('\n') if path.exists() else []


SLURM_TRAIN = osp.join(ROOT, 'tools', 'slurm_train.sh')
SLURM_CMD = ['bash', SLURM_TRAIN, 'gpu', 'hpm',
             'configs/pretrain/hpm_vit-b.py', 'work_dirs/x', '--amp']


def test_slurm_train_submits_a_requeueable_job(tmp_path):
    env = _fake_slurm(tmp_path)
    proc = subprocess.run(SLURM_CMD, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = _args(tmp_path, 'sbatch')
    for flag in ('--requeue', '--signal=USR1@120', '--nodes=2',
                 '--ntasks=16', '--open-mode=append', '--output=hpm-%j.out'):
        assert flag in args
    i = args.index(SLURM_TRAIN)  # the job runs this script again ...
    assert args[i + 1:i + len(SLURM_CMD) - 1] == SLURM_CMD[2:]
    # ... where sbatch's copy of it finds the repository
    assert f'HPM_TOOLS_DIR={osp.dirname(SLURM_TRAIN)}' in args
    assert not _args(tmp_path, 'srun')


@pytest.mark.parametrize('srun_rc,requeued', [(PREEMPTED_EXIT_CODE, True),
                                              (0, False), (1, False)])
def test_slurm_job_requeues_itself_after_a_preemption_checkpoint(
        tmp_path, srun_rc, requeued):
    env = dict(_fake_slurm(tmp_path, srun_rc), SLURM_JOB_ID='4242',
               HPM_TOOLS_DIR=osp.join(ROOT, 'tools'))
    proc = subprocess.run(SLURM_CMD, env=env, capture_output=True,
                          text=True, timeout=60)
    args = _args(tmp_path, 'srun')
    i = args.index('-u')
    assert args[i + 1:i + 8] == [TRAIN, 'configs/pretrain/hpm_vit-b.py',
                                 '--work-dir', 'work_dirs/x', '--launcher',
                                 'slurm', '--amp']
    assert not _args(tmp_path, 'sbatch')
    if requeued:
        assert proc.returncode == 0, proc.stderr
        assert _args(tmp_path, 'scontrol')[:2] == ['requeue', '4242']
    else:
        assert proc.returncode == srun_rc
        assert not _args(tmp_path, 'scontrol')
