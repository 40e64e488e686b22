"""Turn command-line options into a ready-to-run mmengine config."""
import datetime
import os
import os.path as osp
from typing import Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from ..converters import CheckpointError, check_checkpoint
from .resume import find_resume_checkpoint

#: ``loss_scale`` of bf16 AMP: a disabled GradScaler (bf16 has fp32's range,
#: so nothing under- or overflows; steps are never skipped).
BF16_NO_LOSS_SCALE = dict(enabled=False)

#: Environment variables in which launchers count the restarts of a job:
#: torchrun (``--max-restarts``) and Slurm (a requeued batch job).
RESTART_COUNTS = ('TORCHELASTIC_RESTART_COUNT', 'SLURM_RESTART_COUNT')


def launcher_restart() -> Tuple[int, Optional[str]]:
    """How often the launcher has restarted this job, and which says so.

    Returns:
        tuple[int, str | None]: The restart count (0 for a first start) and
        the environment variable that holds it (None for a first start).
    """
    for var in RESTART_COUNTS:
        value = os.environ.get(var, '0')
        count = int(value) if value.isdigit() else 0
        if count > 0:
            return count, var
    return 0, None


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
        work_dir (str, optional): Output folder; defaults to
            ``work_dirs/<config name>``.
        resume (str, optional): ``'auto'`` resumes from the latest readable
            checkpoint in ``work_dir`` (see
            :func:`~hpm_mm.cli.resume.find_resume_checkpoint`), or starts
            from scratch if there is none; a path resumes from that
            checkpoint.
        amp (bool | str, optional): Force mixed precision: ``'fp16'`` (or
            True) is fp16 autocast with dynamic loss scaling, ``'bf16'`` is
            bf16 autocast without loss scaling. A config whose
            ``optim_wrapper.dtype`` is ``'bfloat16'`` gets no loss scaling
            unless it sets ``loss_scale`` itself. Without a GPU both train
            in fp32 (mmengine's ``AmpOptimWrapper`` needs one).
        auto_scale_lr (bool): Scale the lr by the real total batch size.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        config_path (str, optional): Path of the config, for the default
            work dir.
        resume_on_restart (bool): In a job that its launcher restarted (see
            :func:`launcher_restart`), resume as with ``resume='auto'``
            whenever ``work_dir`` holds a checkpoint (else ``resume`` as
            given). ``tools/train.py`` sets it.

    Returns:
        Config: ``cfg``.

    Raises:
        FileNotFoundError: ``resume`` names a file that does not exist.
        CheckpointError: ``resume`` names a file that is not a torch
            checkpoint, or no checkpoint of ``work_dir`` is readable.
    """
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(config_path or 'hpm'))[0]
        cfg.work_dir = osp.join('./work_dirs', name)
    restarts, var = launcher_restart() if resume_on_restart else (0, None)
    newest = None  # looked up once: it reads the candidates' headers
    if restarts and resume != 'auto':
        newest = find_resume_checkpoint(cfg.work_dir)
        if newest:
            print_log(f'restart {restarts} ({var}): resuming from the newest '
                      f'checkpoint of {cfg.work_dir}', logger='current')
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
    if amp is True:
        amp = 'fp16'
    if amp not in (None, False, 'fp16', 'bf16'):
        raise ValueError(f"amp must be 'fp16' or 'bf16', got {amp!r}")
    if amp == 'fp16':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        if cfg.optim_wrapper.get('dtype') in ('bfloat16', torch.bfloat16):
            cfg.optim_wrapper.pop('dtype')
            cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    elif amp == 'bf16':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
        cfg.optim_wrapper.loss_scale = dict(BF16_NO_LOSS_SCALE)
    elif cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and \
            cfg.optim_wrapper.get('dtype') in ('bfloat16', torch.bfloat16):
        cfg.optim_wrapper.setdefault('loss_scale', dict(BF16_NO_LOSS_SCALE))
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        print_log('No GPU: training in fp32 with OptimWrapper instead of '
                  'AmpOptimWrapper.', logger='current')
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.pop('dtype', None)
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    add_safe_globals_hook(cfg)
    return setup_cpu_distributed(cfg, launcher)


def add_safe_globals_hook(cfg: Config) -> Config:
    """Add ``CheckpointSafeGlobalsHook`` to ``custom_hooks`` if it is missing.

    With it, the Runner reads mmengine checkpoints (``load_from``,
    ``resume``, ``init_cfg``) although torch loads weights-only; hpm_mm's
    configs list it themselves, and the tools add it to any other config.

    Args:
        cfg (Config): The loaded config (modified in place and returned).

    Returns:
        Config: ``cfg``.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    for hook in hooks:
        kind = hook.get('type') if isinstance(hook, dict) else type(hook)
        name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
        if name.rsplit('.', 1)[-1] == 'CheckpointSafeGlobalsHook':
            return cfg
    cfg.custom_hooks = hooks + [
        dict(type='mmpretrain.CheckpointSafeGlobalsHook')
    ]
    return cfg


def setup_cpu_distributed(cfg: Config, launcher: str = 'none') -> Config:
    """Without a GPU: the gloo backend, and DDP without device ids.

    NCCL needs GPUs; gloo runs multi-process training and testing on CPUs,
    where DDP must not be given device ids. Nothing changes on a GPU.

    Args:
        cfg (Config): The loaded config (modified in place and returned).
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.

    Returns:
        Config: ``cfg``.
    """
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


def _accelerated() -> bool:
    """Whether a GPU (or NPU, MLU, MUSA device) is there for each process."""
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (torch.cuda.is_available() or is_npu_available()
            or is_mlu_available() or is_musa_available())


def init_cpu_distributed(launcher: str,
                         dist_cfg: Optional[dict] = None) -> bool:
    """Start a ``torchrun`` job's process group where there is no GPU.

    mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device``
    and fails without CUDA. On a machine without an accelerator the tools
    call this before building the Runner: it starts the default process
    group from torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``), on gloo where NCCL was asked for;
    the Runner then finds it started and does not initialise again. With a
    GPU, another launcher or ``init_backend`` other than ``'torch'``,
    nothing happens and mmengine starts the group as usual.

    Args:
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        dist_cfg (dict, optional): ``env_cfg.dist_cfg`` of the config
            (``backend`` and ``init_process_group`` arguments such as
            ``timeout``).

    Returns:
        bool: Whether this started the process group.
    """
    import torch.distributed as dist
    dist_cfg = dict(dist_cfg or {})
    if launcher != 'pytorch' or dist_cfg.pop('init_backend', 'torch') != \
            'torch' or _accelerated() or dist.is_initialized():
        return False
    backend = dist_cfg.pop('backend', 'gloo')
    if dist_cfg.get('timeout') is not None:  # seconds, as mmengine takes it
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    dist.init_process_group(
        backend='gloo' if backend == 'nccl' else backend, **dist_cfg)
    return True
