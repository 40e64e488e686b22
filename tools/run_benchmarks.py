"""The paper's benchmarks in one command: a pre-training checkpoint
(hpm_mm's or the authors' released file; student or EMA teacher) is
converted once, each benchmark trained and tested with the repository's
configs and tools, and WORK_DIR/results.md, .json and .png put the paper's
numbers (from the metafiles) beside ours, read from the files the runs
write. ViT-B or ViT-L is read off the checkpoint and picks the configs.
A video pre-training checkpoint (VideoMAE, video HPM) runs the video
benchmarks instead (K400, SSv2 fine-tuning with mmaction2's own tools;
beside ours, VideoMAE's reference numbers).

Run it again to continue: a stage whose metrics exist is skipped, an
interrupted one resumes from its newest checkpoint, a failed one is
reported with its log and the others still run (exit status 1).
"""
import argparse
import sys
from typing import List, Optional

from hpm_mm.benchmarks import DATASETS, NAMES, Suite, SuiteError


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add('checkpoint', help='pre-training checkpoint')
    add('--work-dir', required=True, help='where the stages and results go')
    add('--benchmarks', nargs='+', default=['all'], metavar='NAME',
        help=f'{"/".join(NAMES)} or all (default: those of the '
        'checkpoint, image or video)')
    add('--source', default='student', choices=['student', 'teacher'],
        help='encoder to evaluate (default: student)')
    add('--arch', choices=['b', 'l'],
        help='the ViT-B or ViT-L configs (default: read off the weights)')
    add('--data-root', nargs='+', default=[], metavar='DATASET=PATH',
        help=f'dataset roots ({", ".join(DATASETS)}); default: the '
        "configs' (data/imagenet, ...)")
    add('--launcher', default='none', choices=['none', 'pytorch', 'slurm'],
        help='none: one process; pytorch: torchrun (tools/dist_*.sh); '
        'slurm: srun (tools/slurm_*.sh)')
    add('--gpus', type=int, default=1, help='GPUs per stage (Slurm: total)')
    add('--partition', help='Slurm partition')
    add('--job-name', default='hpm', help='Slurm jobs: JOB_NAME-BENCHMARK')
    add('--cfg-options', nargs='+', default=[],
        metavar='[BENCHMARK[,BENCHMARK]:]KEY=VALUE',
        help='config overrides for the train and test tools of benchmarks '
        '(without BENCHMARK: of every config benchmark)')
    add('--extra-args', nargs='+', default=[], metavar='BENCHMARK=ARGS',
        help="more options of a benchmark's train tool (knn: of "
        "tools/knn_eval.py), e.g. finetune='--amp bf16'")
    add('--dry-run', action='store_true',
        help='print the commands, change nothing')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    try:
        return Suite(parse_args(argv)).run()
    except SuiteError as err:
        print(f'run_benchmarks: error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
