"""Two processes on halves of a batch compute what one process computes on
the whole batch: same gradients, same teacher, identical across ranks.

The steps are mmengine's: ``MMDistributedDataParallel.train_step`` (which
calls the model's ``forward``, not its ``train_step``) against
``HPM.train_step``, with no hook: the model's own teacher update follows
the optimizer under both."""
import os
import os.path as osp
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.logging import MessageHub
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from hpm_mm.engine import close_distributed

from .conftest import TINY_IMG, build_tiny_hpm

BATCH, STEPS, L, M = 4, 3, 16, 12


def _inputs():
    g = torch.Generator().manual_seed(123)
    x = torch.randint(0, 256, (STEPS, BATCH, 3, TINY_IMG, TINY_IMG),
                      generator=g).float()
    masks = torch.zeros(STEPS, BATCH, L, dtype=torch.bool)
    for s in range(STEPS):
        for b in range(BATCH):
            masks[s, b, torch.randperm(L, generator=g)[:M]] = True
    return x, masks


def _train(rank: int, world: int) -> dict:
    """STEPS HPM train steps on this rank's share of the batch."""
    hub = MessageHub.get_instance(f'hpm_test_ddp_{os.urandom(6).hex()}')
    hub.update_info('epoch', 30)  # the teacher's momentum follows it
    model = build_tiny_hpm(masker=dict(fixed_alpha=0.5))  # seeded init
    net = MMDistributedDataParallel(module=model) if world > 1 else model
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3,
        betas=(0.9, 0.95), weight_decay=0.05)
    grads = {}

    def first_grads(*_) -> None:
        if not grads:
            grads.update({n: p.grad.clone() for n, p in
                          model.named_parameters() if p.grad is not None})

    opt.register_step_pre_hook(first_grads)
    x, masks = _inputs()
    share = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    wrapper = OptimWrapper(opt)
    for s in range(STEPS):
        mask = masks[s, share]
        # same masks in both set-ups (the teacher still runs)
        model.masker.forward = lambda *args, mask=mask, **kw: mask
        net.train_step(dict(inputs=x[s, share], data_samples=None), wrapper)
    return dict(grads=grads, teacher=model.teacher.state_dict())


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        torch.save(_train(rank, world), osp.join(out, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_match_one(tmp_path):
    single = _train(0, 1)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(str(tmp_path / f'rank{r}.pt'), weights_only=True)
             for r in range(2)]
    assert single['grads'].keys() == ranks[0]['grads'].keys()
    assert len(single['grads']) > 50  # backbone, both decoder branches
    for name, g in single['grads'].items():
        for r in ranks:
            assert torch.allclose(r['grads'][name], g, atol=1e-5,
                                  rtol=1e-4), name
    for name, t in ranks[0]['teacher'].items():
        assert torch.equal(t, ranks[1]['teacher'][name]), name
        assert torch.allclose(t.float(), single['teacher'][name].float(),
                              atol=1e-5), name
    assert int(ranks[0]['teacher']['steps']) == STEPS


def _close_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    if rank == 0:
        time.sleep(1.0)  # still writing the last checkpoint
    start = time.time()
    close_distributed()
    torch.save(dict(start=start, end=time.time(), open=dist.is_initialized()),
               osp.join(out, f'rank{rank}.pt'))


def test_the_tools_close_the_group_together(tmp_path):
    """The tools' last call: the rank done first waits for rank 0 (a rank
    leaving early with the group alive can abort at interpreter exit),
    then the group is gone on both."""
    mp.spawn(_close_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    first, last = (torch.load(str(tmp_path / f'rank{r}.pt')) for r in (1, 0))
    assert first['end'] >= last['start']
    assert not first['open'] and not last['open']
