"""The engine hooks on stand-in runners (no training loop, milliseconds)."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hpm_mm.converters import CheckpointError
from hpm_mm.engine.hooks import (CheckpointKeysHook, NonFiniteLossHook,
                                 RNGStateHook, get_rng_state, set_rng_state)


class Wrapped(torch.nn.Module):
    """Stands in for a DDP wrapper (``module`` attribute, registered)."""

    def __init__(self, module):
        super().__init__()
        self.module = module


@pytest.fixture(scope='module', autouse=True)
def register_wrapper():
    from mmengine.registry import MODEL_WRAPPERS
    MODEL_WRAPPERS.register_module(module=Wrapped, force=True)
    yield
    MODEL_WRAPPERS.module_dict.pop('Wrapped', None)


def test_non_finite_loss_hook_names_term_and_iteration():
    hook, runner = NonFiniteLossHook(), SimpleNamespace(iter=6)
    hook.after_train_iter(runner, 0, outputs=None)
    hook.after_train_iter(
        runner, 0, outputs=dict(loss_rec=torch.tensor(1.), loss=2.0,
                                rank_acc=float('nan')))  # not a loss term
    with pytest.raises(FloatingPointError) as err:
        hook.after_train_iter(
            runner, 0,
            outputs=dict(rank_acc=0.5, loss_rec=torch.tensor(1.),
                         loss_pred=torch.tensor(float('nan')),
                         loss=float('inf')))
    assert str(err.value) == (
        'non-finite loss at iteration 7: loss_pred=nan, loss=inf; training '
        'stopped, the last checkpoint was saved before it')


def test_rng_state_round_trip():
    state = get_rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_rng_state_hook_saves_and_restores_on_resume_only():
    hook = RNGStateHook()
    ckpt = {}
    hook.before_save_checkpoint(None, ckpt)
    expected = torch.rand(3)
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), ckpt)
    runner = SimpleNamespace(train_loop=SimpleNamespace(iter=0))
    hook.before_train_epoch(runner)
    assert not torch.equal(torch.rand(3), expected)  # not a resume

    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), {})
    hook.before_train_epoch(runner)
    assert torch.equal(torch.rand(3), expected)
    torch.rand(3)
    hook.before_train_epoch(runner)  # applied once only
    assert not torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize('skip', [1, 3])
def test_rng_state_hook_restores_after_replayed_batches(skip):
    """Iteration-based resume: the state applies after the skipped batches."""
    hook, ckpt = RNGStateHook(), {}
    hook.before_save_checkpoint(None, ckpt)
    expected = torch.rand(1).item()
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)

    batches = iter(range(5))
    loop = SimpleNamespace(iter=skip, dataloader_iterator=batches)
    hook.before_train_epoch(SimpleNamespace(train_loop=loop))
    it = loop.dataloader_iterator
    assert iter(it) is it
    assert it.__length_hint__() == batches.__length_hint__()  # forwarded
    for want in range(skip):
        assert next(it) == want
        torch.rand(1)  # the replay consumes random numbers
    assert next(it) == skip
    assert torch.rand(1).item() == expected
    assert next(it) == skip + 1 and torch.rand(1).item() != expected


@pytest.mark.parametrize('loop', [
    SimpleNamespace(iter=0, dataloader_iterator=iter(range(3))),  # iter, 0
    SimpleNamespace(iter=5),  # epoch-based loop: no dataloader_iterator
])
def test_rng_state_hook_restores_at_once_without_replay(loop):
    hook, ckpt = RNGStateHook(), {}
    hook.before_save_checkpoint(None, ckpt)
    expected = torch.rand(1).item()
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)
    before = getattr(loop, 'dataloader_iterator', None)
    hook.before_train_epoch(SimpleNamespace(train_loop=loop))
    assert getattr(loop, 'dataloader_iterator', None) is before
    assert torch.rand(1).item() == expected


def test_rng_state_cuda_generators(monkeypatch):
    """With CUDA initialised its generators are saved and restored too."""
    cuda, calls = torch.cuda, []
    monkeypatch.setattr(cuda, 'is_available', lambda: True)
    monkeypatch.setattr(cuda, 'get_rng_state_all', lambda: ['gpu0'])
    monkeypatch.setattr(cuda, 'set_rng_state_all', calls.append)
    monkeypatch.setattr(cuda, 'is_initialized', lambda: False)
    assert 'cuda' not in get_rng_state()  # never touch an unused GPU
    monkeypatch.setattr(cuda, 'is_initialized', lambda: True)
    state = get_rng_state()
    assert state['cuda'] == ['gpu0']
    set_rng_state(state)
    assert calls == [['gpu0']]
    del state['cuda']
    set_rng_state(state)  # a CPU checkpoint on a GPU machine
    assert calls == [['gpu0']]
    monkeypatch.setattr(cuda, 'is_available', lambda: False)
    set_rng_state(dict(state, cuda=['gpu0']))  # a GPU checkpoint on a CPU
    assert calls == [['gpu0']]


def checkpoint_runner(model):
    return SimpleNamespace(model=model)


def test_checkpoint_keys_hook_accepts_a_fitting_checkpoint(monkeypatch):
    from hpm_mm.engine.hooks import checkpoint_keys_hook
    logged = []
    monkeypatch.setattr(checkpoint_keys_hook, 'print_log',
                        lambda msg, logger: logged.append((msg, logger)))
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    state = {f'module.{k}': v for k, v in model.state_dict().items()}
    state['extra.weight'] = torch.zeros(1)
    CheckpointKeysHook().after_load_checkpoint(
        checkpoint_runner(Wrapped(model)), dict(state_dict=state))
    assert logged == [("checkpoint: 1 unexpected keys: ['extra.weight']",
                       'current')]


def test_checkpoint_keys_hook_names_missing_keys():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    state = {'0.weight': torch.zeros(2, 2), 'other': torch.zeros(1)}
    with pytest.raises(CheckpointError) as err:
        CheckpointKeysHook().after_load_checkpoint(
            checkpoint_runner(model), state)  # a bare state dict
    msg = str(err.value)
    assert 'checkpoint does not fit Sequential: 3 keys missing (e.g. ' \
        '0.bias, 1.weight, 1.bias), 1 unexpected (e.g. other)' in msg
    assert 'tools/convert_checkpoint.py' in msg
    # allowed keys (fnmatch patterns) are not required
    hook = CheckpointKeysHook(allow_missing=('0.bias', '1.*'))
    hook.after_load_checkpoint(checkpoint_runner(model),
                               dict(state_dict=state))
    only_bias = r'1 keys missing \(e.g. 0.bias\), 0 unexpected'
    with pytest.raises(CheckpointError, match=only_bias):
        CheckpointKeysHook(allow_missing=('1.*', )).after_load_checkpoint(
            checkpoint_runner(model), {'0.weight': torch.zeros(2, 2)})


def test_checkpoint_keys_hook_lists_at_most_a_few_keys(monkeypatch):
    from hpm_mm.engine.hooks import checkpoint_keys_hook
    logged = []
    monkeypatch.setattr(checkpoint_keys_hook, 'print_log',
                        lambda msg, logger: logged.append(msg))
    model = torch.nn.Sequential(*(torch.nn.Linear(2, 2) for _ in range(4)))
    state = {f'x{i:02d}': torch.zeros(1) for i in range(12)}
    with pytest.raises(CheckpointError) as err:
        CheckpointKeysHook().after_load_checkpoint(
            checkpoint_runner(model), state)
    first = [f'x{i:02d}' for i in range(12)]
    assert logged == [f'checkpoint: 12 unexpected keys: {first[:10]}']
    assert err.value.args[0] == (
        'checkpoint does not fit Sequential: 8 keys missing (e.g. 0.weight, '
        '0.bias, 1.weight, ...), 12 unexpected (e.g. x00, x01, x02, ...), 0 '
        'with another shape; likely cause: no key in common (checkpoint keys '
        'like x00, model keys like 0.weight) (wrong kind of checkpoint? '
        'tools/convert_checkpoint.py converts between formats)')
