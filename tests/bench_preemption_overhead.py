"""The per-iteration cost of PreemptionHook (its defaults) with 2 gloo
processes.

    OMP_NUM_THREADS=1 PYTHONPATH=. torchrun --nproc-per-node 2 \\
        tests/bench_preemption_overhead.py

Each rank runs a small DDP training step (its gradient all-reduce makes the
ranks wait for each other every iteration, as in real training), in
alternating blocks with and without ``PreemptionHook.after_train_iter``
after it. Rank 0 prints the median time per iteration of each, their
difference, and the hook's own time per iteration (mean over all calls, the
ranks' all-reduce every ``interval`` iterations included). (Not a test:
run by hand; docs/en/reliability.md quotes the figures.)
"""
import statistics
import time
from types import SimpleNamespace

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from hpm_mm.engine.hooks import PreemptionHook


def main(iters: int = 200, blocks: int = 10) -> None:
    dist.init_process_group('gloo')
    torch.manual_seed(0)
    model = DistributedDataParallel(
        torch.nn.Sequential(
            torch.nn.Linear(256, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 256)))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(64, 256)
    hook, runner = PreemptionHook(), SimpleNamespace(iter=0, max_iters=-1)
    hook.before_train(runner)
    per_iter = {False: [], True: []}
    calls = []
    for block in range(2 * blocks):
        with_hook = bool(block % 2)
        dist.barrier()
        start = time.perf_counter()
        for _ in range(iters):
            runner.iter += 1
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if with_hook:
                t = time.perf_counter()
                hook.after_train_iter(runner, 0)
                calls.append(time.perf_counter() - t)
        per_iter[with_hook].append((time.perf_counter() - start) / iters)
    hook.after_train(runner)
    if dist.get_rank() == 0:
        off, on = (statistics.median(per_iter[k]) * 1e3
                   for k in (False, True))
        print(f'per iteration: without the hook {off:.3f} ms, with it '
              f'{on:.3f} ms, difference {on - off:+.3f} ms; the hook itself '
              f'{statistics.mean(calls) * 1e6:.0f} us (mean), median call '
              f'{statistics.median(calls) * 1e6:.0f} us')
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
