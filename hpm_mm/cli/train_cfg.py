"""Turn command-line options into a ready-to-run mmengine config, and pick
the checkpoint ``--resume`` (without a path) continues from."""
import datetime
import glob
import logging
import os
import os.path as osp
import re
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..converters import CheckpointError, check_checkpoint

#: Environment variables in which launchers count the restarts of a job:
#: torchrun (``--max-restarts``) and Slurm (a requeued batch job).
RESTART_COUNTS = ('TORCHELASTIC_RESTART_COUNT', 'SLURM_RESTART_COUNT')
_BF16 = ('bfloat16', torch.bfloat16)


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest readable checkpoint of ``work_dir``, or None if it has none.

    Newest first: the one ``last_checkpoint`` names (mmengine's
    ``find_latest_checkpoint``), then every ``epoch_N.pth``/``iter_N.pth``
    (not ``best_*``) by decreasing N. One that cannot be read (truncated by
    a full disk, or missing though ``last_checkpoint`` names it) is skipped
    with a warning naming it and the checkpoint used instead.

    Raises:
        CheckpointError: There are checkpoints but none is readable.
    """
    numbered = {}
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match:
            numbered[path] = int(match[1])
    bad = []
    for path in dict.fromkeys(filter(None, [find_latest_checkpoint(
            work_dir)] + sorted(numbered, key=numbered.get, reverse=True))):
        try:
            check_checkpoint(path)
        except CheckpointError as err:
            bad.append(str(err))
            continue
        if bad:
            print_log(f'--resume: {bad[0]}; resuming from {path} instead '
                      f'(the newest readable checkpoint)', logger='current',
                      level=logging.WARNING)
        return path
    if bad:
        raise CheckpointError(f'--resume: no readable checkpoint in '
                              f'{work_dir}; newest: {bad[0]}')
    return None


def setup_train_cfg(cfg: Config,
                    work_dir: Optional[str] = None,
                    resume: Optional[str] = None,
                    amp: Union[bool, str, None] = None,
                    auto_scale_lr: bool = False,
                    launcher: str = 'none',
                    config_path: Optional[str] = None,
                    resume_on_restart: bool = False) -> Config:
    """Apply the usual OpenMMLab ``tools/train.py`` options to ``cfg``.

    Args:
        cfg (Config): The loaded config (modified in place and returned).
        work_dir (str, optional): Output folder; defaults to the config's,
            else ``work_dirs/<name of config_path>``.
        resume (str, optional): ``'auto'``: from the newest readable
            checkpoint of the work dir (or from scratch); else this file.
        amp (bool | str, optional): ``'fp16'`` (or True): dynamic loss
            scaling; ``'bf16'``: none. fp32 without a GPU.
        auto_scale_lr (bool): Enable ``cfg.auto_scale_lr``.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        config_path (str, optional): The config file.
        resume_on_restart (bool): In a job its launcher restarted (see
            ``RESTART_COUNTS``), resume as with ``'auto'``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(config_path or 'hpm'))[0])
    restarted = [v for v in RESTART_COUNTS
                 if os.environ.get(v, '0') not in ('', '0')]
    newest = None  # looked up once: it reads the candidates' headers
    if resume_on_restart and restarted and resume != 'auto':
        newest = find_resume_checkpoint(cfg.work_dir)
        if newest:
            print_log(f'restart {os.environ[restarted[0]]} ({restarted[0]})'
                      f': resuming from the newest checkpoint of '
                      f'{cfg.work_dir}', logger='current')
            resume = 'auto'
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = newest or find_resume_checkpoint(cfg.work_dir)
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        cfg.resume, cfg.load_from = True, resume
    ow = cfg.optim_wrapper
    if amp in (True, 'fp16'):
        if ow.get('dtype') in _BF16:
            ow.pop('dtype')
            ow.pop('loss_scale', None)
        ow.update(type='AmpOptimWrapper', loss_scale=ow.get(
            'loss_scale', 'dynamic'))
    elif amp == 'bf16':
        ow.update(type='AmpOptimWrapper', dtype='bfloat16',
                  loss_scale=dict(enabled=False))
    elif amp not in (None, False):
        raise ValueError(f"amp must be 'fp16' or 'bf16', got {amp!r}")
    if ow.get('type') == 'AmpOptimWrapper' and ow.get('dtype') in _BF16:
        ow.setdefault('loss_scale', dict(enabled=False))  # never skips
    if ow.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        print_log('No GPU: training in fp32 with OptimWrapper instead of '
                  'AmpOptimWrapper.', logger='current')
        ow.type = 'OptimWrapper'
        ow.pop('loss_scale', None)
        ow.pop('dtype', None)
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    return add_custom_hooks(cfg, 'CheckpointSafeGlobalsHook')


def add_custom_hooks(cfg: Config, *names: str) -> Config:
    """Add the hpm_mm hooks ``names`` (e.g. ``'CheckpointSafeGlobalsHook'``,
    which lets the Runner read mmengine checkpoints although torch loads
    weights-only) to ``cfg.custom_hooks`` unless they are there. Returns
    ``cfg``."""
    hooks = list(cfg.get('custom_hooks') or [])
    listed = ' '.join(str(h.get('type') if isinstance(h, dict) else type(h))
                      for h in hooks)
    cfg.custom_hooks = hooks + [dict(type=f'mmpretrain.{name}')
                                for name in names if name not in listed]
    return cfg


def init_cpu_distributed(launcher: str, cfg: Optional[Config] = None) -> bool:
    """Distributed runs without accelerator: gloo, and in ``cfg`` DDP
    without device ids (which it refuses on CPUs). A ``torchrun`` job's
    process group is started here, as mmengine 0.10.7's ``pytorch``
    launcher calls ``torch.cuda.set_device`` first; the Runner then finds
    it started.

    Args:
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        cfg (Config, optional): The config to run (modified in place).

    Returns:
        bool: Whether this started the process group.
    """
    import torch.distributed as dist
    from mmengine.device import get_device
    if get_device() not in ('cpu', 'mps'):
        return False
    if cfg is not None:
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg.backend = 'gloo'
        if launcher != 'none' and cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                         broadcast_buffers=False,
                                         device_ids=None)
    kwargs = dict(cfg.env_cfg.dist_cfg if cfg is not None else {},
                  backend='gloo')
    if launcher != 'pytorch' or dist.is_initialized() or kwargs.pop(
            'init_backend', 'torch') != 'torch':
        return False
    if kwargs.get('timeout') is not None:  # seconds, as mmengine takes it
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    dist.init_process_group(**kwargs)
    return True
