"""The commands a benchmark stage runs: the repository's own tools, started
in one process, with torchrun on N GPUs, or with srun through the Slurm
scripts. Nothing is scheduled here: the launcher is torchrun or Slurm."""
import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

#: Launchers of ``--launcher``.
LAUNCHERS = ('none', 'pytorch', 'slurm')


@dataclass
class Command:
    """A command line and the environment variables it adds.

    Attributes:
        argv (list[str]): The program and its arguments.
        env (dict[str, str]): Variables set for it (Slurm: ``GPUS``).
    """
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """The command as one shell line (what ``--dry-run`` prints)."""
        env = [f'{k}={shlex.quote(v)}' for k, v in self.env.items()]
        return ' '.join(env + [_quote(a) for a in self.argv])


@dataclass
class Launcher:
    """How the stages' processes are started.

    Attributes:
        kind (str): 'none' (one process: ``python tools/train.py``),
            'pytorch' (``tools/dist_train.sh CONFIG GPUS``: torchrun on
            this machine) or 'slurm' (``tools/slurm_train.sh PARTITION JOB
            CONFIG``: srun; a job step inside an allocation, else a job of
            its own that srun waits for).
        gpus (int): Processes (GPUs) per stage; for Slurm the total.
        partition (str, optional): Slurm partition.
        job_prefix (str): Slurm job names are ``<prefix>-<stage>``.
        python (str): Interpreter of the single-process commands.
    """
    kind: str = 'none'
    gpus: int = 1
    partition: Optional[str] = None
    job_prefix: str = 'hpm'
    python: str = sys.executable

    def __post_init__(self) -> None:
        if self.kind not in LAUNCHERS:
            raise ValueError(f'unknown launcher {self.kind!r}; choose from '
                             f'{", ".join(LAUNCHERS)}')
        if self.gpus < 1:
            raise ValueError(f'--gpus must be at least 1, got {self.gpus}')
        if self.kind == 'slurm' and not self.partition:
            raise ValueError('--launcher slurm needs --partition')
        if self.kind == 'none' and self.gpus != 1:
            raise ValueError('--gpus > 1 needs --launcher pytorch or slurm')

    def _slurm_env(self) -> Dict[str, str]:
        per_node = os.environ.get('GPUS_PER_NODE') or str(min(self.gpus, 8))
        return dict(GPUS=str(self.gpus), GPUS_PER_NODE=per_node)

    def train(self, config: str, work_dir: str, resume: bool,
              extra: Sequence[str], options: Sequence[str],
              stage: str) -> Command:
        """``tools/train.py`` of a config into ``work_dir``."""
        tail = ['--work-dir', work_dir] + (['--resume'] if resume else [])
        tail += list(extra) + _options(options)
        if self.kind == 'none':
            return Command([self.python, 'tools/train.py', config] + tail)
        if self.kind == 'pytorch':
            return Command(['tools/dist_train.sh', config,
                            str(self.gpus)] + tail)
        return Command(['tools/slurm_train.sh', self.partition,
                        f'{self.job_prefix}-{stage}', config] + tail,
                       self._slurm_env())

    def test(self, config: str, checkpoint: str, work_dir: str,
             metrics_file: str, options: Sequence[str],
             stage: str) -> Command:
        """``tools/test.py``, writing the metrics to ``metrics_file``."""
        tail = ['--work-dir', work_dir, '--out', metrics_file,
                '--out-item', 'metrics'] + _options(options)
        if self.kind == 'none':
            return Command([self.python, 'tools/test.py', config,
                            checkpoint] + tail)
        if self.kind == 'pytorch':
            return Command(['tools/dist_test.sh', config, checkpoint,
                            str(self.gpus)] + tail)
        return Command(['tools/slurm_test.sh', self.partition,
                        f'{self.job_prefix}-{stage}-test', config,
                        checkpoint] + tail, self._slurm_env())

    def knn(self, checkpoint: str, data_root: str, out: str,
            extra: Sequence[str], stage: str) -> Command:
        """``tools/knn_eval.py`` of an encoder, results to ``out``."""
        tail = [checkpoint, '--data-root', data_root, '--out', out
                ] + list(extra)
        if self.kind == 'none':
            return Command([self.python, 'tools/knn_eval.py'] + tail)
        if self.kind == 'pytorch':
            return Command(['tools/dist_knn.sh', checkpoint, str(self.gpus)]
                           + tail[1:])
        return Command(['tools/slurm_knn.sh', self.partition,
                        f'{self.job_prefix}-{stage}'] + tail,
                       self._slurm_env())

    def convert(self, src: str, dst: str, source: str) -> Command:
        """``tools/convert_checkpoint.py``, always one local process."""
        return Command([self.python, 'tools/convert_checkpoint.py', src, dst,
                        '--to', 'mmpretrain', '--source', source])


def _quote(arg: str) -> str:
    """Shell-quote, but keep a ``"$(...)"`` substitution (the dry run's
    stand-in for the checkpoint training will leave)."""
    if arg.startswith('"$(') and arg.endswith(')"'):
        return arg
    return shlex.quote(arg)


def _options(options: Sequence[str]) -> List[str]:
    return ['--cfg-options'] + list(options) if options else []
