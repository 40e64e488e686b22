"""The paper's benchmarks in one command (``tools/run_benchmarks.py``)."""
from .suite import BENCHMARKS, DATASETS, NAMES, Suite, SuiteError

__all__ = ['BENCHMARKS', 'DATASETS', 'NAMES', 'Suite', 'SuiteError']
