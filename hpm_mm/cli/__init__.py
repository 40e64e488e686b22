"""What the command-line tools share: options, config loading, pre-flight
checks, resume selection, train-config set-up and the error handler."""
from .args import DEBUG_VAR, load_config, one_line_errors
from .config_checks import (DatasetError, check_checkpoint_paths,
                            check_dataset_paths, check_datasets_not_empty,
                            check_inputs)
from .resume import find_resume_checkpoint, resume_candidates
from .train_cfg import (add_safe_globals_hook, count_accumulation,
                        init_cpu_distributed, setup_cpu_distributed,
                        setup_train_cfg)

__all__ = [
    'DEBUG_VAR', 'DatasetError', 'add_safe_globals_hook',
    'check_checkpoint_paths', 'check_dataset_paths',
    'check_datasets_not_empty', 'check_inputs', 'count_accumulation',
    'find_resume_checkpoint', 'init_cpu_distributed', 'load_config',
    'one_line_errors', 'resume_candidates', 'setup_cpu_distributed',
    'setup_train_cfg'
]
