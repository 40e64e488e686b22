"""The mmengine details hpm_mm.engine.mmengine_compat relies on, checked on
a real Runner: this test fails when mmengine changes one of them."""
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import IterBasedTrainLoop, Runner
from torch.utils.data import Dataset

from hpm_mm.engine import mmengine_compat
from hpm_mm.engine.hooks import CheckpointSafeGlobalsHook

BATCH = 2


class Counted(Dataset):
    """Eight numbers; counts the items loaded."""

    loaded = 0

    def __len__(self):
        return 8

    def __getitem__(self, i):
        Counted.loaded += 1
        return dict(inputs=torch.tensor([float(i)]))


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=(torch.stack(inputs) * self.w).mean())


class Record(Hook):
    """Installs call_after_replay in before_train and notes, in order, how
    many items had been loaded when it ran and at each iteration start."""

    def __init__(self, events: list):
        self.events = events

    def before_train(self, runner):
        assert isinstance(runner.train_loop, IterBasedTrainLoop)
        mmengine_compat.call_after_replay(
            runner.train_loop,
            lambda: self.events.append(('replayed', Counted.loaded)))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.events.append((runner.iter, Counted.loaded))


def _runner(work_dir: str, max_iters: int, events: list, **kw) -> Runner:
    return Runner(
        model=Toy(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=Counted(), batch_size=BATCH, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', by_epoch=False, interval=2)),
        custom_hooks=[CheckpointSafeGlobalsHook(), Record(events)],
        default_scope='mmpretrain', **kw)


def test_iter_loop_replays_through_dataloader_iterator(tmp_path):
    """Touch point 1: a resumed IterBasedTrainLoop replays ``iter`` batches
    by next() on ``dataloader_iterator`` after before_train, and loads the
    first new batch before the next hook runs."""
    assert mmengine_compat.CHECKED_VERSION == '0.10.7'
    work = str(tmp_path / 'work')
    _runner(work, 2, []).train()

    events = []
    runner = _runner(work, 4, events, resume=True,
                     load_from=f'{work}/iter_2.pth')
    Counted.loaded = 0
    runner.train()
    assert events == [
        ('replayed', 2 * BATCH),  # the 2 trained batches, nothing new
        (2, 3 * BATCH),  # iteration 3 starts with its batch loaded
        (3, 4 * BATCH),
    ]
