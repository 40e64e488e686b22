"""SIGTERM in an iteration-based downstream run: the ADE20K UperNet config
(tiny sizes, its IterBasedTrainLoop and InfiniteSampler) checkpoints,
exits with 75, and --resume gives the uninterrupted run's losses."""
import signal

from hpm_mm.testing import no_workers, shrink_seg, write_ade20k

from ..test_preemption import (PREEMPTED_EXIT_CODE, _assert_same_losses,
                               _check_preempted, _run, _with_signal)
from ..test_reliability import per_iter_losses, train_cmd
from .helpers import config

SEG = 'configs/seg/hpm_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512.py'
KEYS = ('decode.loss_ce', 'aux.loss_ce')


def test_seg_sigterm_then_resume_is_exact(tmp_path, hpm_ckpt):
    root = write_ade20k(str(tmp_path / 'ade'), width=128, height=96)
    cfg = shrink_seg(config(SEG), hpm_ckpt, root)
    no_workers(cfg)
    cfg.train_cfg.update(max_iters=4, val_interval=100)
    cfg.default_hooks.checkpoint.interval = 100
    cfg.default_hooks.logger.interval = 1
    cfg.log_processor.update(window_size=1, num_digits=10)
    cfg.randomness = dict(seed=0)
    tiny = str(tmp_path / 'seg.py')
    cfg.dump(tiny)
    ref = str(tmp_path / 'ref')
    proc = _run(train_cmd(tiny, ref))
    assert proc.returncode == 0, proc.stderr[-3000:]

    sig = _with_signal(tiny, str(tmp_path / 'signal.py'), at=2,
                       signum=int(signal.SIGTERM))
    work = str(tmp_path / 'work')
    proc = _run(train_cmd(sig, work))
    assert proc.returncode == PREEMPTED_EXIT_CODE, proc.stderr[-3000:]
    _check_preempted(proc.stdout, work, signal.SIGTERM, 2,
                     'preempted_iter_2.pth')

    proc = _run(train_cmd(sig, work, '--resume'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_losses(per_iter_losses(work, keys=KEYS),
                        per_iter_losses(ref, keys=KEYS), 3)
