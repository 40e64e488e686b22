"""Command-line and Runner set-up helpers shared by the tools."""
from .config_checks import check_checkpoint_paths, check_dataset_paths
from .runner_setup import setup_cpu_distributed, setup_train_cfg

__all__ = [
    'check_checkpoint_paths', 'check_dataset_paths', 'setup_cpu_distributed',
    'setup_train_cfg'
]
