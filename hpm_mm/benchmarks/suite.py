"""Run the benchmark suite: convert once, then train and test each
benchmark with the repository's tools, resumably, and write the table.

Work dir layout (``W`` = ``--work-dir``)::

    W/convert/encoder.pth        the encoder, converted once (--to mmpretrain)
    W/<benchmark>/               the tools' work dir (checkpoints, logs)
    W/<benchmark>/train.log      what the train tool printed (every attempt)
    W/<benchmark>/test.log       what the test tool printed
    W/<benchmark>/metrics.json   the test tool's metrics (--out-item metrics)
    W/knn/knn.json               the kNN tool's results
    W/<stage>/suite_stage.json   the stage's state: commands, checkpoint,
                                 wall times, status
    W/results.{md,json,png}      the table

A stage whose final checkpoint and metrics exist is skipped; one with a
checkpoint but no final one resumes from its newest (``--resume``); a
failed stage is reported with its log and the next ones still run.
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..cli.resume import resume_candidates
from ..converters import CheckpointError
from ..fileio import write_text
from .arch import detect_arch
from .launch import Command, Launcher
from .results import (ResultFileError, read_metric, row_value,
                      write_results)
from .stages import (ARCH_NAMES, ARCHS, DATASETS, DEFAULT_IMAGENET, NAMES,
                     Benchmark, config_of, get_benchmark, metafile_models,
                     paper_value, repo_root, select)

STATE_FILE = 'suite_stage.json'
#: What the dry run prints for the checkpoint training will leave.
_LAST = '"$(cat {})"'


class SuiteError(ValueError):
    """A bad input of the suite (one line, naming the option or file)."""


@dataclass
class SuiteOptions:
    """What to run, where, and how.

    Attributes:
        checkpoint (str): Pre-training checkpoint (hpm_mm or released).
        work_dir (str): Where every stage writes.
        launcher (Launcher): How processes are started.
        benchmarks (Sequence[str]): Names of :data:`~.stages.NAMES`, or
            ``['all']``.
        source (str): 'student' or 'teacher' encoder.
        arch (str, optional): 'b' or 'l'; detected when None.
        data_roots (dict[str, str]): Dataset (imagenet, coco, ade20k) ->
            root; the configs' defaults for the others.
        cfg_options (dict[str, list[str]]): Benchmark -> ``KEY=VALUE``
            overrides for its train and test tools.
        extra_args (dict[str, list[str]]): Benchmark -> arguments for its
            train tool (the kNN tool for ``knn``).
        dry_run (bool): Print the commands, change nothing.
    """
    checkpoint: str
    work_dir: str
    launcher: Launcher = field(default_factory=Launcher)
    benchmarks: Sequence[str] = ('all', )
    source: str = 'student'
    arch: Optional[str] = None
    data_roots: Dict[str, str] = field(default_factory=dict)
    cfg_options: Dict[str, List[str]] = field(default_factory=dict)
    extra_args: Dict[str, List[str]] = field(default_factory=dict)
    dry_run: bool = False


# ----------------------------------------------------- option parsing --
def parse_data_roots(items: Sequence[str]) -> Dict[str, str]:
    """``['imagenet=PATH', ...]`` -> ``{'imagenet': PATH}``."""
    out = {}
    for item in items or []:
        name, sep, path = item.partition('=')
        if not sep or not path:
            raise SuiteError(f'--data-root {item!r}: expected DATASET=PATH')
        if name not in DATASETS:
            raise SuiteError(f'--data-root {item!r}: unknown dataset '
                             f'{name!r}; choose from {", ".join(DATASETS)}')
        out[name] = path
    return out


def _benchmarks_of(spec: str, what: str) -> List[str]:
    names = spec.split(',')
    for name in names:
        if name not in NAMES:
            raise SuiteError(f'{what}: unknown benchmark {name!r}; choose '
                             f'from {", ".join(NAMES)}')
    return names


def parse_cfg_options(items: Sequence[str]) -> Dict[str, List[str]]:
    """``[BENCH[,BENCH]:]KEY=VALUE`` items -> benchmark -> overrides.

    Without a benchmark the override goes to every config benchmark
    (fine-tune, linear, coco, ade20k).
    """
    out: Dict[str, List[str]] = {}
    for item in items or []:
        head, sep, rest = item.partition(':')
        if sep and '=' not in head:
            names = _benchmarks_of(head, f'--cfg-options {item!r}')
            option = rest
        else:
            names = [b for b in NAMES if get_benchmark(b).uses_config]
            option = item
        key, eq, _ = option.partition('=')
        if not eq or not key:
            raise SuiteError(f'--cfg-options {item!r}: expected '
                             '[BENCHMARK:]KEY=VALUE')
        for name in names:
            if not get_benchmark(name).uses_config:
                raise SuiteError(f'--cfg-options {item!r}: {name} has no '
                                 'config (give its tool options with '
                                 '--extra-args)')
            out.setdefault(name, []).append(option)
    return out


def parse_extra_args(items: Sequence[str]) -> Dict[str, List[str]]:
    """``['BENCH[,BENCH]=ARGS', ...]`` (ARGS split like a shell) ->
    benchmark -> arguments."""
    out: Dict[str, List[str]] = {}
    for item in items or []:
        head, sep, args = item.partition('=')
        if not sep:
            raise SuiteError(f'--extra-args {item!r}: expected '
                             'BENCHMARK=ARGS')
        for name in _benchmarks_of(head, f'--extra-args {item!r}'):
            out.setdefault(name, []).extend(shlex.split(args))
    return out


# -------------------------------------------------------------- state --
def read_state(stage_dir: str) -> dict:
    """A stage's recorded state (empty when it never ran)."""
    path = osp.join(stage_dir, STATE_FILE)
    if not osp.isfile(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError:
        return {}  # cut short: the stage runs again (it resumes)


def write_state(stage_dir: str, state: dict) -> None:
    """Record a stage's state (atomically)."""
    write_text(osp.join(stage_dir, STATE_FILE),
                 json.dumps(state, indent=2) + '\n')


def _file_id(path: str) -> dict:
    st = os.stat(path)
    return dict(path=osp.abspath(path), size=st.st_size,
                mtime=int(st.st_mtime))


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``CheckpointHook`` recorded last."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        path = f.read().strip()
    return path if path and osp.isfile(path) else None


# -------------------------------------------------------------- suite --
def _print_now(line: str) -> None:
    print(line, flush=True)


class Suite:
    """Plans and runs the stages; see the module docstring.

    Args:
        opts (SuiteOptions): What to run.
        echo (callable): Where progress lines go. The default prints and
            flushes each line, so that a log redirected to a file shows
            what ran even when the job is killed.
    """

    def __init__(self, opts: SuiteOptions,
                 echo: Callable[[str], None] = _print_now) -> None:
        self.opts = opts
        self.echo = echo
        self.work_dir = osp.abspath(opts.work_dir)
        self.root = repo_root()
        self.rows: List[dict] = []
        self.failed: List[str] = []
        self.notes: List[str] = []

    # ------------------------------------------------------------ run --
    def run(self) -> int:
        """Run every stage; 0 when all succeeded, 1 otherwise.

        Raises:
            SuiteError: A bad input, before anything runs.
        """
        opts = self.opts
        if not osp.isfile(opts.checkpoint):
            raise SuiteError(f'checkpoint not found: {opts.checkpoint}')
        if opts.source not in ('student', 'teacher'):
            raise SuiteError(f"--source must be 'student' or 'teacher', got "
                             f'{opts.source!r}')
        if opts.arch is None:
            try:
                arch = detect_arch(opts.checkpoint, opts.source)
            except CheckpointError as err:
                raise SuiteError(str(err)) from None
        elif opts.arch in ARCHS:
            arch = opts.arch
        else:
            raise SuiteError(f'--arch must be one of {", ".join(ARCHS)}, got '
                             f'{opts.arch!r}')
        try:
            benches, self.notes = select(opts.benchmarks, arch)
            models = metafile_models()
        except ValueError as err:
            raise SuiteError(str(err)) from None
        self.arch = arch
        names = ['convert'] + [b.name for b in benches]
        how = 'read off the weights' if opts.arch is None else '--arch'
        self.echo(f'[suite] {opts.checkpoint} ({opts.source} encoder, '
                  f'{ARCH_NAMES[arch]} configs: {how}): '
                  f'{" -> ".join(names)} in {self.work_dir}'
                  f'{" (dry run: nothing runs)" if opts.dry_run else ""}')
        for note in self.notes:
            self.echo(f'[suite] left out: {note}')
        encoder = self._convert(names)
        for i, bench in enumerate(benches, start=2):
            prefix = f'[{i}/{len(names)}] {bench.name}'
            left = names[i:]
            if encoder is None and not opts.dry_run:
                self._rows(bench, models, status='not run (no encoder)')
                self.echo(f'{prefix}: not run, the conversion failed')
                continue
            if bench.uses_config:
                self._config_stage(bench, models, encoder, prefix, left)
            else:
                self._knn_stage(bench, encoder, prefix, left)
        if opts.dry_run:
            return 0
        paths = write_results(self.work_dir, dict(
            checkpoint=osp.abspath(opts.checkpoint), source=opts.source,
            arch=arch, arch_name=ARCH_NAMES[arch], work_dir=self.work_dir,
            rows=self.rows, notes=self.notes))
        with open(paths['md']) as f:
            for line in f:
                if line.startswith('|'):
                    self.echo(line.rstrip('\n'))
        self.echo(f'[suite] results: {paths["md"]}, {paths["json"]}, '
                  f'{paths["png"]}')
        if self.failed:
            self.echo(f'[suite] failed: {", ".join(self.failed)}')
            return 1
        return 0

    # -------------------------------------------------------- helpers --
    def _stage_dir(self, name: str) -> str:
        return osp.join(self.work_dir, name)

    def _launch(self, cmd: Command, log: str) -> Tuple[int, float]:
        """Run ``cmd`` from the repository root, appending to ``log``."""
        os.makedirs(osp.dirname(log), exist_ok=True)
        env = dict(os.environ, **cmd.env)
        start = time.time()
        with open(log, 'a') as f:
            f.write(f'=== hpm_mm benchmark suite, {time.ctime()}: '
                    f'{cmd.shell()}\n')
            f.flush()
            rc = subprocess.call(cmd.argv, cwd=self.root, env=env, stdout=f,
                                 stderr=subprocess.STDOUT)
        return rc, time.time() - start

    def _show(self, prefix: str, what: str, cmd: Command,
              left: Sequence[str]) -> None:
        rest = ', '.join(left) or 'nothing'
        self.echo(f'{prefix}: {what}; left after it: {rest}')
        self.echo(f'    {cmd.shell()}')

    def _fail(self, prefix: str, name: str, what: str, rc: int,
              log: str) -> None:
        tail = ''
        if osp.isfile(log):
            with open(log, errors='replace') as f:
                lines = [line.strip() for line in f if line.strip()]
            tail = f': {lines[-1]}' if lines else ''
        self.echo(f'{prefix}: FAILED ({what} exit {rc}); log: {log}{tail}')
        self.failed.append(name)

    # -------------------------------------------------------- convert --
    def _convert(self, names: Sequence[str]) -> Optional[str]:
        """Stage 1: the encoder in ``backbone.*`` mmpretrain names."""
        opts = self.opts
        stage = self._stage_dir('convert')
        dst = osp.join(stage, 'encoder.pth')
        prefix = f'[1/{len(names)}] convert'
        src_id = dict(_file_id(opts.checkpoint), source=opts.source)
        state = read_state(stage)
        if state.get('status') == 'done' and osp.isfile(dst):
            if state.get('input') != src_id:
                raise SuiteError(
                    f'{self.work_dir} holds the benchmarks of another '
                    f'checkpoint ({state.get("input", {}).get("path")}, '
                    f'{state.get("input", {}).get("source")}); give this one '
                    'its own --work-dir')
            self.echo(f'{prefix}: skipped, done ({dst})')
            return dst
        cmd = opts.launcher.convert(osp.abspath(opts.checkpoint), dst,
                                    opts.source)
        self._show(prefix, f'{opts.source} encoder -> {dst}', cmd, names[1:])
        if opts.dry_run:
            return dst
        log = osp.join(stage, 'convert.log')
        write_state(stage, dict(status='running', input=src_id,
                                command=cmd.shell(), log=log))
        rc, wall = self._launch(cmd, log)
        if rc != 0 or not osp.isfile(dst):
            write_state(stage, dict(status='failed', input=src_id,
                                    command=cmd.shell(), log=log, rc=rc))
            self._fail(prefix, 'convert', 'convert', rc, log)
            return None
        write_state(stage, dict(status='done', input=src_id,
                                command=cmd.shell(), log=log, wall_s=wall,
                                encoder=dst))
        return dst

    # ----------------------------------------------- config benchmarks --
    def _wiring(self, bench: Benchmark, encoder: str) -> List[str]:
        """``KEY=VALUE`` options that point a config at the encoder and
        the data roots."""
        out = [f'model.backbone.init_cfg.checkpoint={encoder}']
        root = self.opts.data_roots.get(bench.dataset)
        if root is not None:
            root = osp.abspath(root)
            out += [f'{key}={root}' for key in bench.data_root_keys]
            out += [f'{key}={osp.join(root, rel)}'
                    for key, rel in bench.ann_file_keys]
        return out + self.opts.cfg_options.get(bench.name, [])

    def _config_stage(self, bench: Benchmark, models: Dict[str, dict],
                      encoder: str, prefix: str, left: Sequence[str]) -> None:
        opts = self.opts
        stage = self._stage_dir(bench.name)
        config = config_of(bench, self.arch, models)
        metrics_file = osp.join(stage, 'metrics.json')
        options = self._wiring(bench, encoder)
        state = read_state(stage)
        ckpt = state.get('checkpoint')
        trained = state.get('status') in ('trained', 'done') and bool(
            ckpt) and osp.isfile(ckpt)
        if trained and state['status'] == 'done' and osp.isfile(
                metrics_file):
            self.echo(f'{prefix}: skipped, done ({ckpt}, {metrics_file})')
            self._rows(bench, models, state=state)
            return
        if not trained:
            resume = bool(resume_candidates(stage)) if osp.isdir(
                stage) else False
            cmd = opts.launcher.train(config, stage, resume,
                                      opts.extra_args.get(bench.name, []),
                                      options, bench.name)
            what = (f'train, resuming from the newest checkpoint in {stage}'
                    if resume else 'train')
            self._show(prefix, f'{what} ({config})', cmd,
                       ['test'] + list(left))
            if opts.dry_run:
                ckpt = _LAST.format(osp.join(stage, 'last_checkpoint'))
            else:
                log = osp.join(stage, 'train.log')
                state = dict(status='running', config=config,
                             train=dict(command=cmd.shell(), log=log))
                write_state(stage, state)
                rc, wall = self._launch(cmd, log)
                ckpt = last_checkpoint(stage) if rc == 0 else None
                if ckpt is None:
                    state.update(status='failed', rc=rc)
                    write_state(stage, state)
                    self._fail(prefix, bench.name, 'train', rc, log)
                    self._rows(bench, models, state=state,
                               status='failed (train)', log=log)
                    return
                state['train'].update(wall_s=wall)
                state.update(status='trained', checkpoint=ckpt)
                write_state(stage, state)
        cmd = opts.launcher.test(config, ckpt, osp.join(stage, 'test'),
                                 metrics_file, options, bench.name)
        what = ('test the checkpoint training leaves' if opts.dry_run
                and not trained else f'test {osp.basename(ckpt)}')
        self._show(prefix, what, cmd, left)
        if opts.dry_run:
            return
        log = osp.join(stage, 'test.log')
        if osp.exists(metrics_file):
            os.remove(metrics_file)  # only this test's metrics count
        rc, wall = self._launch(cmd, log)
        state['test'] = dict(command=cmd.shell(), log=log, wall_s=wall)
        if rc != 0 or not osp.isfile(metrics_file):
            state.update(status='failed (test)', rc=rc)
            write_state(stage, state)
            self._fail(prefix, bench.name, 'test', rc, log)
            self._rows(bench, models, state=state, status='failed (test)',
                       log=log)
            return
        state.update(status='done', metrics_file=metrics_file)
        write_state(stage, state)
        self._rows(bench, models, state=state)

    # ------------------------------------------------------------ kNN --
    def _knn_stage(self, bench: Benchmark, encoder: str, prefix: str,
                   left: Sequence[str]) -> None:
        opts = self.opts
        stage = self._stage_dir(bench.name)
        out = osp.join(stage, 'knn.json')
        state = read_state(stage)
        if state.get('status') == 'done' and osp.isfile(out):
            self.echo(f'{prefix}: skipped, done ({out})')
            self._rows(bench, {}, state=state)
            return
        root = osp.abspath(opts.data_roots.get('imagenet', DEFAULT_IMAGENET))
        cmd = opts.launcher.knn(encoder, root, out,
                                opts.extra_args.get(bench.name, []),
                                bench.name)
        self._show(prefix, 'kNN of the frozen encoder', cmd, left)
        if opts.dry_run:
            return
        log = osp.join(stage, 'knn.log')
        if osp.exists(out):
            os.remove(out)
        state = dict(status='running', config='tools/knn_eval.py',
                     checkpoint=encoder,
                     test=dict(command=cmd.shell(), log=log))
        write_state(stage, state)
        rc, wall = self._launch(cmd, log)
        state['test'].update(wall_s=wall)
        if rc != 0 or not osp.isfile(out):
            state.update(status='failed', rc=rc)
            write_state(stage, state)
            self._fail(prefix, bench.name, 'knn', rc, log)
            self._rows(bench, {}, state=state, status='failed', log=log)
            return
        state.update(status='done', metrics_file=out)
        write_state(stage, state)
        self._rows(bench, {}, state=state)

    # ----------------------------------------------------------- rows --
    def _rows(self, bench: Benchmark, models: Dict[str, dict],
              state: Optional[dict] = None, status: str = 'done',
              log: Optional[str] = None) -> None:
        """One table row per metric of ``bench``, read from its files."""
        state = state or {}
        name = bench.models.get(self.arch)
        entry = models.get(name, {}) if name else {}
        wall = sum(state.get(part, {}).get('wall_s', 0.0)
                   for part in ('train', 'test')) or None
        file = state.get('metrics_file') if status == 'done' else None
        for metric in bench.metrics:
            value = None
            if file is not None:
                try:
                    value = read_metric(file, metric.key)
                except ResultFileError as err:
                    if bench.name not in self.failed:
                        self.failed.append(bench.name)
                    self.echo(f'[suite] {bench.name}: {err}')
                    status, log = 'failed (metrics)', file
            self.rows.append(dict(
                benchmark=bench.name,
                task=bench.task,
                metric=metric.label,
                value=row_value(value, metric.scale),
                paper=paper_value(entry, metric),
                config=state.get('config') or (
                    entry.get('Config') if entry else 'tools/knn_eval.py'),
                checkpoint=state.get('checkpoint'),
                wall_s=wall,
                status=status,
                file=file,
                key='/'.join(metric.key),
                scale=metric.scale,
                log=log))
