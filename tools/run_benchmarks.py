"""The paper's benchmarks in one command: from a pre-training checkpoint to
the results table.

Examples::

    # ViT-B, all benchmarks, 8 GPUs of this machine (torchrun)
    python tools/run_benchmarks.py checkpoints/hpm_vit-b_800e.pth \\
        --work-dir work_dirs/bench_vit-b --launcher pytorch --gpus 8 \\
        --data-root imagenet=data/imagenet coco=data/coco/ \\
        ade20k=data/ade/ADEChallengeData2016
    # Slurm (inside an allocation: job steps; outside: one job per stage)
    python tools/run_benchmarks.py hpm_vitb_800e.pth --source teacher \\
        --work-dir work_dirs/bench --launcher slurm --partition gpu --gpus 8
    # print the commands only
    python tools/run_benchmarks.py hpm_vitb_800e.pth --work-dir w --dry-run
"""
import argparse
import sys
from typing import List, Optional

from hpm_mm.benchmarks import (DATASETS, LAUNCHERS, NAMES, Launcher, Suite,
                               SuiteError, SuiteOptions, parse_cfg_options,
                               parse_data_roots, parse_extra_args)

DESCRIPTION = f"""\
Convert a pre-training checkpoint once (hpm_mm's or the authors' released
file; student or EMA teacher), then train and test each benchmark with the
repository's configs and tools, and write WORK_DIR/results.md, .json and
.png, the paper's numbers (from the metafiles) beside ours. ViT-B or ViT-L
is read off the checkpoint and picks the configs.

Benchmarks: {', '.join(NAMES)} (default: all).

Run it again to continue: a stage whose final checkpoint and metrics exist
is skipped, an interrupted one resumes from its newest checkpoint, a failed
one is reported with its log and the others still run (exit status 1).
Metrics are read from the files the runs write (tools/test.py --out
--out-item metrics; tools/knn_eval.py --out).
"""


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('--work-dir', required=True,
                        help='where every stage and the results go')
    parser.add_argument('--benchmarks', nargs='+', default=['all'],
                        metavar='NAME', help=f'{"/".join(NAMES)} or all')
    parser.add_argument('--source', default='student',
                        choices=['student', 'teacher'],
                        help='encoder to evaluate (default: student)')
    parser.add_argument('--arch', choices=['b', 'l'],
                        help='use the ViT-B or ViT-L configs instead of '
                        "reading the size off the checkpoint")
    parser.add_argument('--data-root', nargs='+', default=[],
                        metavar='DATASET=PATH',
                        help=f'dataset roots ({", ".join(DATASETS)}); '
                        "default: the configs' (data/imagenet, ...)")
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS,
                        help='none: one process; pytorch: torchrun '
                        '(tools/dist_*.sh); slurm: srun (tools/slurm_*.sh)')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs per stage (Slurm: in total)')
    parser.add_argument('--partition', help='Slurm partition')
    parser.add_argument('--job-name', default='hpm',
                        help='Slurm job names: JOB_NAME-BENCHMARK')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        metavar='[BENCHMARK:]KEY=VALUE',
                        help='config overrides for the train and test '
                        'tools of one benchmark (or, without BENCHMARK:, of '
                        'every config benchmark)')
    parser.add_argument('--extra-args', nargs='+', default=[],
                        metavar='BENCHMARK=ARGS',
                        help="more options of a benchmark's train tool "
                        "(knn: of tools/knn_eval.py), e.g. "
                        "finetune='--amp bf16' knn='--batch-size 64'")
    parser.add_argument('--dry-run', action='store_true',
                        help='print the commands, change nothing')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        opts = SuiteOptions(
            checkpoint=args.checkpoint,
            work_dir=args.work_dir,
            launcher=Launcher(args.launcher, args.gpus, args.partition,
                              args.job_name),
            benchmarks=args.benchmarks,
            source=args.source,
            arch=args.arch,
            data_roots=parse_data_roots(args.data_root),
            cfg_options=parse_cfg_options(args.cfg_options),
            extra_args=parse_extra_args(args.extra_args),
            dry_run=args.dry_run)
    except ValueError as err:  # SuiteError, or the launcher's options
        print(f'run_benchmarks: error: {err}', file=sys.stderr)
        return 2
    try:
        return Suite(opts).run()
    except SuiteError as err:
        print(f'run_benchmarks: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
