"""Turn command-line options into a ready-to-run mmengine config."""
import datetime
import os
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from ..converters import CheckpointError, check_checkpoint
from .resume import find_resume_checkpoint

#: Environment variables in which launchers count the restarts of a job:
#: torchrun (``--max-restarts``) and Slurm (a requeued batch job).
RESTART_COUNTS = ('TORCHELASTIC_RESTART_COUNT', 'SLURM_RESTART_COUNT')
_BF16 = ('bfloat16', torch.bfloat16)


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
        auto_scale_lr (bool): Enable ``cfg.auto_scale_lr`` (see
            :func:`count_accumulation`).
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
        try:
            check_checkpoint(resume)
        except CheckpointError as err:
            raise CheckpointError(f'--resume: {err}') from None
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
    add_safe_globals_hook(cfg)
    return setup_cpu_distributed(cfg, launcher)


def count_accumulation(runner: Runner) -> None:
    """Make the Runner's lr scaling count gradient accumulation.

    With ``auto_scale_lr.enable``, mmengine 0.10.7's ``Runner.scale_lr``
    multiplies the lr by world size x batch per GPU / ``base_batch_size``.
    An optimizer step sees ``optim_wrapper.accumulative_counts`` batches:
    the base is divided by it here (the dumped config keeps it).

    Args:
        runner (Runner): Built, not yet trained.
    """
    scale = runner.auto_scale_lr or {}
    counts = runner.cfg.get('optim_wrapper', {}).get('accumulative_counts', 1)
    if scale.get('enable') and counts != 1:
        base = scale['base_batch_size']
        print_log(f'auto_scale_lr: {counts} accumulated batches per step, '
                  f'so base_batch_size {base} is {base / counts} per batch',
                  logger='current')
        runner.auto_scale_lr = dict(scale, base_batch_size=base / counts)


def add_safe_globals_hook(cfg: Config) -> Config:
    """Add ``CheckpointSafeGlobalsHook`` to ``cfg.custom_hooks`` unless it
    is there: the Runner then reads mmengine checkpoints although torch
    loads weights-only. Returns ``cfg``."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any('CheckpointSafeGlobalsHook' in str(
            h.get('type') if isinstance(h, dict) else type(h)) for h in hooks):
        cfg.custom_hooks = hooks + [
            dict(type='mmpretrain.CheckpointSafeGlobalsHook')
        ]
    return cfg


def setup_cpu_distributed(cfg: Config, launcher: str = 'none') -> Config:
    """Without a GPU: the gloo backend, and DDP without device ids (which
    it refuses on CPUs). Returns ``cfg``."""
    if torch.cuda.is_available():
        return cfg
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    if launcher != 'none' and cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            device_ids=None)
    return cfg


def init_cpu_distributed(launcher: str,
                         dist_cfg: Optional[dict] = None) -> bool:
    """Start a ``torchrun`` job's gloo process group without accelerator:
    mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device``
    first. The Runner then finds the group started.

    Args:
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        dist_cfg (dict, optional): The config's ``env_cfg.dist_cfg``.

    Returns:
        bool: Whether this started the process group.
    """
    import torch.distributed as dist
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    dist_cfg = dict(dist_cfg or {})
    if launcher != 'pytorch' or dist_cfg.pop('init_backend', 'torch') != \
            'torch' or dist.is_initialized() or torch.cuda.is_available() \
            or is_npu_available() or is_mlu_available() \
            or is_musa_available():
        return False
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    if dist_cfg.get('timeout') is not None:  # seconds, as mmengine takes it
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    dist.init_process_group(**dist_cfg)
    return True
