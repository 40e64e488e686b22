"""The paper's benchmarks in one run: from a pre-training checkpoint to the
results table (``tools/run_benchmarks.py``).

- :mod:`.stages`: the benchmarks, their metrics and where their configs and
  the paper's numbers come from (the metafiles);
- :mod:`.arch`: ViT-B or ViT-L, read off the checkpoint;
- :mod:`.launch`: the tools' command lines for one process, torchrun or
  Slurm;
- :mod:`.suite`: the stages, their skip/resume state, the progress lines;
- :mod:`.results`: metric readers and ``results.{md,json,png}``.
"""
from .arch import detect_arch
from .launch import LAUNCHERS, Command, Launcher
from .results import ResultFileError, read_metric, write_results
from .stages import BENCHMARKS, DATASETS, NAMES, Benchmark, Metric
from .suite import (Suite, SuiteError, SuiteOptions, parse_cfg_options,
                    parse_data_roots, parse_extra_args)

__all__ = [
    'BENCHMARKS', 'Benchmark', 'Command', 'DATASETS', 'LAUNCHERS',
    'Launcher', 'Metric', 'NAMES', 'ResultFileError', 'Suite', 'SuiteError',
    'SuiteOptions', 'detect_arch', 'parse_cfg_options', 'parse_data_roots',
    'parse_extra_args', 'read_metric', 'write_results'
]
