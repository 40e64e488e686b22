"""What the command-line tools share: options, config loading, pre-flight
checks, resume selection, train-config set-up and the error handler."""
from .args import DEBUG_VAR, load_config, one_line_errors  # noqa: F401
from .config_checks import (DatasetError, check_checkpoint_paths,  # noqa
                            check_dataset_paths, check_inputs)
from .train_cfg import (add_custom_hooks, find_resume_checkpoint,  # noqa
                        init_cpu_distributed, setup_train_cfg)
