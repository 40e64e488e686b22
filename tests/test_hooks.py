"""The engine hooks on stand-in runners (no training loop, milliseconds)."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hpm_mm.converters import CheckpointError
from hpm_mm.engine.hooks import (CheckpointKeysHook, NonFiniteLossHook,
                                 PreemptionHook, RNGStateHook, get_rng_state,
                                 set_rng_state)


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


def test_non_finite_loss_hook_names_term_and_iteration(message_hub):
    """It reads what RuntimeInfoHook logged (train/<key> in the hub)."""
    hook = NonFiniteLossHook()
    runner = SimpleNamespace(iter=6, message_hub=message_hub)

    def step(**outputs):
        for key, value in outputs.items():
            message_hub.update_scalar(f'train/{key}', value)
        hook.after_train_iter(runner, 0, outputs=outputs)

    hook.after_train_iter(runner, 0, outputs=None)
    step(loss_rec=torch.tensor(1.), loss=2.0, rank_acc=float('nan'))
    with pytest.raises(FloatingPointError) as err:
        step(rank_acc=0.5, loss_rec=torch.tensor(1.),
             loss_pred=torch.tensor(float('nan')), loss=float('inf'))
    assert str(err.value) == (
        'non-finite loss at iteration 7: loss_pred=nan, loss=inf; training '
        'stopped, the last checkpoint was saved before it')


@pytest.mark.parametrize('kwargs,names', [
    (dict(signals=('SIGTERM', 'SIGTERN')), "signal 'SIGTERN'"),
    (dict(interval=0), 'interval'),
])
def test_preemption_hook_names_a_bad_argument(kwargs, names):
    with pytest.raises(ValueError) as err:
        PreemptionHook(**kwargs)
    assert 'PreemptionHook' in str(err.value) and names in str(err.value)


def test_rng_state_round_trip():
    state = get_rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def rng_runner(it: int) -> SimpleNamespace:
    """A runner at iteration ``it`` whose loop is neither of mmengine's."""
    return SimpleNamespace(
        epoch=0, iter=it, train_loop=None,
        train_dataloader=SimpleNamespace(batch_sampler=None))


def test_rng_state_hook_saves_the_gathered_states_and_restores_on_resume():
    hook, ckpt = RNGStateHook(), {}
    hook.gather(rng_runner(3))
    expected = torch.rand(3)
    hook.before_save_checkpoint(rng_runner(4), ckpt)  # not where gathered
    assert 'rng_state' not in ckpt
    hook.before_save_checkpoint(rng_runner(3), ckpt)
    assert len(ckpt['rng_state']) == 1  # one per rank

    hook.after_load_checkpoint(None, ckpt)
    hook.before_train(rng_runner(0))  # load_from: training starts at 0
    assert not torch.equal(torch.rand(3), expected)
    hook.after_load_checkpoint(None, ckpt)
    hook.before_train(rng_runner(3))  # a resume
    assert torch.equal(torch.rand(3), expected)
    hook.before_train(rng_runner(3))  # applied once only
    assert not torch.equal(torch.rand(3), expected)


def test_rng_state_hook_keeps_fresh_seeds_for_other_ranks(monkeypatch):
    from hpm_mm.engine.hooks import rng_state_hook
    logged = []
    monkeypatch.setattr(rng_state_hook, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    hook = RNGStateHook()
    states = [get_rng_state()] * 2
    expected = torch.rand(3)
    hook.after_load_checkpoint(None, dict(rng_state=states))
    hook.before_train(rng_runner(3))
    assert not torch.equal(torch.rand(3), expected)
    assert len(logged) == 1 and 'RNG states of 2 processes' in logged[0]
    assert 'this run has 1' in logged[0]


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
    extra = [f'x{i:02d}' for i in range(12)]
    state.update({k: torch.zeros(1) for k in extra})
    CheckpointKeysHook().after_load_checkpoint(
        checkpoint_runner(Wrapped(model)), dict(state_dict=state))
    assert logged == [(f'checkpoint: 12 unexpected keys: {extra[:10]}',
                       'current')]  # at most 10 named


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


def test_checkpoint_keys_hook_names_a_few_keys():
    model = torch.nn.Sequential(*(torch.nn.Linear(2, 2) for _ in range(4)))
    state = {f'x{i:02d}': torch.zeros(1) for i in range(12)}
    with pytest.raises(CheckpointError) as err:
        CheckpointKeysHook().after_load_checkpoint(
            checkpoint_runner(model), state)
    assert err.value.args[0] == (
        'checkpoint does not fit Sequential: 8 keys missing (e.g. 0.weight, '
        '0.bias, 1.weight, ...), 12 unexpected (e.g. x00, x01, x02, ...), 0 '
        'with another shape; likely cause: no key in common (checkpoint keys '
        'like x00, model keys like 0.weight) (wrong kind of checkpoint? '
        'tools/convert_checkpoint.py converts between formats)')
