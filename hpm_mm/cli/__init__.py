"""What the command-line tools share: config loading, pre-flight checks,
resume selection, train-config set-up and one-line error reporting."""
from .args import exit_on_input_error
from ..errors import ConfigError
from .config_checks import (DatasetError, check_checkpoint_paths,
                            check_dataset_paths, check_datasets_not_empty,
                            check_inputs)
from .config_errors import check_model_config, naming_the_key
from .resume import find_resume_checkpoint
from .train_cfg import (add_safe_globals_hook, init_cpu_distributed,
                        setup_cpu_distributed, setup_train_cfg)

__all__ = [
    'ConfigError', 'DatasetError', 'add_safe_globals_hook',
    'check_checkpoint_paths', 'check_dataset_paths',
    'check_datasets_not_empty', 'check_inputs', 'check_model_config',
    'exit_on_input_error', 'find_resume_checkpoint',
    'init_cpu_distributed', 'naming_the_key', 'setup_cpu_distributed',
    'setup_train_cfg'
]
