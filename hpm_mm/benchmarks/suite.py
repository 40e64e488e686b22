"""The benchmark suite: convert the encoder once, train and test each
benchmark with the repository's configs and tools, write the table.

Work dir ``W``: ``W/convert/encoder.pth`` (``input.json``: the checkpoint
and source it came from), ``W/<benchmark>/``: the train tool's work dir,
the tools' logs, the test tool's work dir ``test/``, the metrics
(``metrics.json``, ``knn.json``); ``W/results.{md,json,png}``. A video
pre-training checkpoint (a 5-D patch embedding) runs the video benchmarks
with mmaction2's own train and test tools, whose test metrics (the json
log of ``test/``) become ``metrics.json``; an image one, the others. A log's
attempts start with ``=== hpm_mm benchmark suite, TIME: COMMAND`` and end,
once the tool exits, with ``=== exit RC after S s``. These files are the
state: a benchmark whose metrics exist is skipped, one whose last training
exited 0 is only tested, one with a checkpoint trains with ``--resume``.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
import zipfile
from argparse import Namespace
from functools import partial, reduce
from pathlib import Path
from typing import (Callable, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple)

import mmengine

from ..apis.model_index import MIM_ROOT, MODEL_INDEX
from ..converters import (CheckpointError, extract_encoder,
                          infer_video_arch, infer_vit_arch, read_checkpoint)
from ..converters.keymaps import VIDEO_FORMATS
from ..fileio import write_text


class Metric(NamedTuple):
    """One number: ``key``, its path in the result file (``('mIoU', )``);
    ``label``, the column text; ``paper``, its name in the metafile's
    ``Results[].Metrics`` (None: none); ``scale`` from the file's unit to
    the paper's (mmdet's 0-1 AP to %)."""
    key: Tuple[str, ...]
    label: str
    paper: Optional[str] = None
    scale: float = 1.0


class Benchmark(NamedTuple):
    """One row group of the table: ``name`` on the command line, ``task``
    in the table, ``dataset`` of ``--data-root``; ``models``, encoder size
    -> metafile model name (none: kNN); ``metrics``; ``roots``, the config
    entries set to a path under the data root (key, relative path);
    ``video``: a video benchmark, run by mmaction2's tools."""
    name: str
    task: str
    dataset: str
    models: Dict[str, str]
    metrics: Tuple[Metric, ...]
    roots: Tuple[Tuple[str, str], ...] = ()
    video: bool = False


_LOADERS = tuple((f'{k}_dataloader.dataset.data_root', '')
                 for k in ('train', 'val', 'test'))
_TOP1 = Metric(('accuracy/top1', ), 'top-1 (%)', 'Top 1 Accuracy')
_COCO_ANN = 'annotations/instances_val2017.json'
_ADE = 'upernet_vit-{}-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-512x512'
_ACC = Metric(('acc/top1', ), 'top-1 (%)', 'Top 1 Accuracy', 100.0)
_VIDEOMAE = 'vit-base-p16_videomae-800e-pre_64xb8-amp-coslr-{}'


def _video_roots(train: str, val: str, lists: str) -> Tuple[Tuple[str, str],
                                                           ...]:
    """The annotation list and video folder of each loader (mmaction's
    layout: ``{lists}_{train,val}_list_videos.txt``)."""
    return tuple(
        (f'{k}_dataloader.dataset.{key}', rel) for k, split, folder in (
            ('train', 'train', train), ('val', 'val', val),
            ('test', 'val', val))
        for key, rel in (('ann_file', f'{lists}_{split}_list_videos.txt'),
                         ('data_prefix.video', folder)))


BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark('finetune', 'ImageNet-1k fine-tuning', 'imagenet',
              dict(b='vit-base-p16_hpm-800e-pre_8xb48-coslr-100e_in1k',
                   l='vit-large-p16_hpm-800e-pre_8xb64-coslr-50e_in1k'),
              (_TOP1, ), _LOADERS),
    Benchmark('linear', 'ImageNet-1k linear probe', 'imagenet',
              dict(b='vit-base-p16_hpm-800e-pre_8xb256-linear-coslr-100e_'
                   'in1k'), (_TOP1, ), _LOADERS),
    Benchmark('knn', 'ImageNet-1k kNN (k=20)', 'imagenet', {},
              (Metric(('results', '20', 'top1'), 'top-1 (%)'), )),
    Benchmark('coco', 'COCO Mask R-CNN', 'coco',
              {a: f'mask-rcnn_vit-{n}-p16_hpm-800e-pre_8xb8-lsj-100e_coco'
               for a, n in (('b', 'base'), ('l', 'large'))},
              (Metric(('coco/bbox_mAP', ), 'AP box', 'box AP', 100.0),
               Metric(('coco/segm_mAP', ), 'AP mask', 'mask AP', 100.0)),
              (('train_dataloader.dataset.dataset.data_root', ''),
               *_LOADERS[1:], ('val_evaluator.ann_file', _COCO_ANN),
               ('test_evaluator.ann_file', _COCO_ANN))),
    Benchmark('ade20k', 'ADE20K UperNet', 'ade20k',
              dict(b=_ADE.format('base'), l=_ADE.format('large')),
              (Metric(('mIoU', ), 'mIoU (%)', 'mIoU'), ), _LOADERS),
    Benchmark('k400', 'Kinetics-400 fine-tuning', 'k400',
              dict(b=_VIDEOMAE.format('100e_kinetics400-16x4x1')), (_ACC, ),
              _video_roots('videos_train', 'videos_val', 'kinetics400'),
              video=True),
    Benchmark('ssv2', 'Something-Something V2 fine-tuning', 'ssv2',
              dict(b=_VIDEOMAE.format('50e_sthv2-u16')), (_ACC, ),
              _video_roots('videos', 'videos', 'sthv2'), video=True),
)
NAMES = tuple(b.name for b in BENCHMARKS)  # in the order they run
DATASETS = tuple(dict.fromkeys(b.dataset for b in BENCHMARKS))
#: The encoder sizes of the configs: mmpretrain arch -> name, (width, depth).
ARCHS = dict(b=('ViT-B', (768, 12)), l=('ViT-L', (1024, 24)))
#: The folder holding ``configs/`` and ``tools/``: the commands' cwd.
ROOT = osp.dirname(osp.realpath(osp.join(MIM_ROOT, 'tools')))
#: Columns of ``results.md``, with the row keys they show.
COLUMNS = (('Benchmark', 'benchmark'), ('Task', 'task'),
           ('Metric', 'metric'), ('Ours', 'value'), ('Paper', 'paper'),
           ('Config', 'config'), ('Checkpoint', 'checkpoint'),
           ('Wall time', 'wall_s'), ('Status', 'status'))
Failure = Optional[Tuple[str, Optional[str]]]  # a row's status, log
#: Whose numbers the 'Paper' column shows, in image and in video runs.
PAPER = ("the HPM paper's numbers", "VideoMAE's reference numbers, not "
         "HPM's (the HPM paper reports no video results)")


class SuiteError(ValueError):
    """A bad input of the suite (one line, naming the option or file)."""


def read_encoder(checkpoint: str, source: str) -> Tuple[dict, bool]:
    """The checkpoint's ``source`` encoder ('student' or 'teacher') in
    bare names, and whether it is a video one (a video format of the
    converters: a 5-D patch embedding); only the shapes are read (a zip
    file is memory-mapped)."""
    ckpt = read_checkpoint(checkpoint, mmap=zipfile.is_zipfile(checkpoint))
    conv = extract_encoder(ckpt, source)
    return conv.state, conv.source_format in VIDEO_FORMATS


def detect_arch(enc: dict, video: bool, what: str) -> str:
    """The key of :data:`ARCHS` of the encoder ``enc`` (image or video);
    :class:`SuiteError` naming ``what`` for any other size."""
    shape = (infer_video_arch if video else infer_vit_arch)(enc)
    size = (shape['embed_dims'], shape['depth' if video else 'num_layers'])
    for arch, (_, known) in ARCHS.items():
        if size == known:
            return arch
    known = ', '.join(f'{c} x {d}' for _, (c, d) in ARCHS.values())
    raise SuiteError(
        f'{what} is a ViT of width {size[0]} and {size[1]} blocks, neither '
        f'ViT-B nor ViT-L ({known}); pick the configs with --arch and fit '
        'the model with --cfg-options')


def _ended(log: str) -> Optional[float]:
    """The seconds of the log's last attempt if it exited 0, else None."""
    text = Path(log).read_text(errors='replace') if osp.isfile(log) else ''
    marks = [ln.split() for ln in text.splitlines() if ln.startswith('=== ')]
    ok = marks and marks[-1][:3] == ['===', 'exit', '0']
    return float(marks[-1][4]) if ok else None


def _checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``CheckpointHook`` recorded last."""
    record = Path(work_dir, 'last_checkpoint')
    path = record.read_text().strip() if record.is_file() else ''
    return path if path and osp.isfile(path) else None


def _by_name(items: Sequence[str], option: str, sep: str,
             names: Sequence[str], what: str) -> Dict[str, List[str]]:
    """``NAME[,NAME]<sep>VALUE`` items -> name -> values; with ``sep`` ':'
    (``--cfg-options``) a value is a ``KEY=VALUE`` and names are optional
    (none: every config benchmark)."""
    out: Dict[str, List[str]] = {}
    for item in items:
        head, found, value = item.partition(sep)
        if sep == ':' and (not found or '=' in head):
            head, value = ','.join(b.name for b in BENCHMARKS
                                   if b.models), item
        key, eq, _ = value.partition('=')
        if not value or sep == ':' and not (key and eq):
            raise SuiteError(f'{option} {item!r}: expected {what.upper()}'
                             f'{sep}{"KEY=VALUE" if sep == ":" else "VALUE"}')
        for name in head.split(','):
            if name not in names:
                raise SuiteError(f'{option} {item!r}: unknown {what} '
                                 f'{name!r}; choose from {", ".join(names)}')
            out.setdefault(name, []).append(value)
    return out


class Suite:
    """The benchmarks of one checkpoint, run in order (module docstring).

    Args:
        args (Namespace): The options of ``tools/run_benchmarks.py``.
        echo (callable): Where progress lines go; the default prints and
            flushes each (a killed job's redirected log shows what ran).

    Raises:
        SuiteError: A bad input, before anything runs.
    """

    def __init__(self, args: Namespace,
                 echo: Callable = partial(print, flush=True)) -> None:
        self.args, self.echo = args, echo
        if args.launcher == 'slurm' and not args.partition:
            raise SuiteError('--launcher slurm needs --partition')
        if args.gpus < 1 or args.launcher == 'none' and args.gpus != 1:
            raise SuiteError(f'--gpus {args.gpus}: 1 with --launcher none, '
                             'at least 1 with pytorch or slurm')
        self.data_roots = {k: osp.abspath(v[-1]) for k, v in _by_name(
            args.data_root, '--data-root', '=', DATASETS, 'dataset').items()}
        self.cfg_options = _by_name(args.cfg_options, '--cfg-options', ':',
                                    NAMES, 'benchmark')
        if 'knn' in self.cfg_options:
            raise SuiteError('--cfg-options: knn has no config (give its '
                             'tool options with --extra-args)')
        self.extra_args = {k: shlex.split(' '.join(v)) for k, v in _by_name(
            args.extra_args, '--extra-args', '=', NAMES, 'benchmark').items()}
        if not osp.isfile(args.checkpoint):
            raise SuiteError(f'checkpoint not found: {args.checkpoint}')
        try:
            enc, self.video = read_encoder(args.checkpoint, args.source)
            self.arch = args.arch or detect_arch(
                enc, self.video, f'{args.checkpoint}: the {args.source} '
                'encoder')
        except CheckpointError as err:
            raise SuiteError(str(err)) from None
        every = list(args.benchmarks) == ['all']
        own = [b.name for b in BENCHMARKS if b.video == self.video]
        kind = ('an image', 'a video')[self.video]
        for name in args.benchmarks:
            if name not in NAMES and not every:
                raise SuiteError(f'unknown benchmark {name!r}; choose from '
                                 f'{", ".join(NAMES)}')
            if name not in own and not every:
                raise SuiteError(
                    f'{name}: not a benchmark of {kind} pre-training '
                    f'checkpoint ({args.checkpoint}); choose from '
                    f'{", ".join(own)}')
        self.kind = (f'{kind} pre-training checkpoint (a '
                     f'{4 + self.video}-D patch embedding): '
                     f'{kind.split()[1]} benchmarks only')
        self.tools = 'tools'  # the train and test tools' folder
        if self.video:
            spec = importlib.util.find_spec('mmaction')
            if spec is None:
                raise SuiteError("the video benchmarks run mmaction2's "
                                 'tools: pip install mmaction2')
            self.tools = osp.join(spec.submodule_search_locations[0],
                                  '.mim', 'tools')
            if args.launcher == 'slurm':
                raise SuiteError(
                    "--launcher slurm: mmaction2's tools/slurm_*.sh start "
                    'the tools/ of their working folder, not its own; run '
                    'the video benchmarks with --launcher pytorch on one '
                    'node of the allocation')
        benches = [b for b in BENCHMARKS
                   if b.name in own and (every or b.name in args.benchmarks)]
        self.notes = [
            f'{b.name}: no {ARCHS[self.arch][0]} config (the paper reports '
            f'this benchmark for {", ".join(ARCHS[a][0] for a in b.models)} '
            'only)' for b in benches if b.models and self.arch not in b.models]
        if self.notes and not every:
            raise SuiteError(self.notes[0])
        self.benches = [b for b in benches if self.arch in b.models
                        or not b.models]
        self.names = ['convert'] + [b.name for b in self.benches]
        self.models = {}  # every metafile entry of the model index, by name
        for rel in mmengine.load(MODEL_INDEX).get('Import', []):
            meta = mmengine.load(osp.join(osp.dirname(MODEL_INDEX), rel))
            self.models.update({m['Name']: m for m in meta.get('Models', [])})
        self.work_dir = osp.abspath(args.work_dir)
        self.rows: List[dict] = []  # one per metric
        self.failed: List[str] = []  # stage names

    def run(self) -> int:
        """Run the stages, write the table; 0 if all succeeded, else 1 (or
        :class:`SuiteError`: the work dir is another checkpoint's)."""
        args = self.args
        self.echo(f'[suite] {args.checkpoint} ({args.source} encoder, '
                  f'{ARCHS[self.arch][0]} configs: '
                  f'{"--arch" if args.arch else "read off the weights"}): '
                  f'{" -> ".join(self.names)} in {self.work_dir}'
                  f'{" (dry run: nothing runs)" if args.dry_run else ""}')
        self.echo(f'[suite] {self.kind}')
        for note in self.notes:
            self.echo(f'[suite] left out: {note}')
        encoder = self._convert()
        for bench in self.benches:
            stage = osp.join(self.work_dir, bench.name)
            out = osp.join(stage, 'metrics.json' if bench.models else
                           'knn.json')
            failure: Failure = None
            if osp.isfile(out):
                self._say(bench.name, f'skipped, done ({out})')
            elif encoder is None:
                self._say(bench.name, 'not run, the conversion failed')
                failure = ('not run (no encoder)', None)
            elif bench.models:
                failure = self._train_test(bench, stage, out, encoder)
            else:
                root = self.data_roots.get('imagenet', 'data/imagenet')
                failure = self._step('knn', 'knn', 'kNN of the frozen encoder',
                                     [encoder, '--data-root',
                                      osp.abspath(root), '--out', out,
                                      *self.extra_args.get('knn', [])], out)
            if not args.dry_run:
                self._rows(bench, stage, out, encoder,
                           *(failure or ('done', None)))
        if args.dry_run:
            return 0
        self._write_results()
        if self.failed:
            self.echo(f'[suite] failed: {", ".join(self.failed)}')
        return int(bool(self.failed))

    def _convert(self) -> Optional[str]:
        """The encoder in ``backbone.*`` names of mmpretrain (image) or
        mmaction (video) (None: failed)."""
        args = self.args
        dst = osp.join(self.work_dir, 'convert', 'encoder.pth')
        record = osp.join(self.work_dir, 'convert', 'input.json')
        st = os.stat(args.checkpoint)
        src = dict(path=osp.abspath(args.checkpoint), size=st.st_size,
                   mtime=int(st.st_mtime), source=args.source)
        if osp.isfile(dst) and osp.isfile(record):
            done = json.loads(Path(record).read_text())
            if done != src:
                raise SuiteError(
                    f'{self.work_dir} holds the benchmarks of another '
                    f'checkpoint ({done["path"]}, {done["source"]}); give '
                    'this one its own --work-dir')
            self._say('convert', f'skipped, done ({dst})')
            return dst
        if self._step('convert', 'convert', f'{args.source} encoder -> {dst}',
                      [src['path'], dst, '--to', 'mmaction' if self.video
                       else 'mmpretrain', '--source',
                       args.source], dst):
            return None
        if not args.dry_run:
            write_text(record, json.dumps(src) + '\n')
        return dst

    def _train_test(self, bench: Benchmark, stage: str, metrics: str,
                    encoder: str) -> Failure:
        """Train (unless the last training exited 0), then test; a video
        benchmark's metrics are its test tool's json log, copied."""
        config = self.models[bench.models[self.arch]]['Config']
        root = self.data_roots.get(bench.dataset)
        options = ['--cfg-options', 'model.backbone.init_cfg.checkpoint=' +
                   encoder] + [f'{key}={osp.normpath(osp.join(root, rel))}'
                               for key, rel in bench.roots if root
                               ] + self.cfg_options.get(bench.name, [])
        record = osp.join(stage, 'last_checkpoint')
        ckpt = _checkpoint(stage)
        if _ended(osp.join(stage, 'train.log')) is None:
            resume = bool(glob.glob(osp.join(stage, '*.pth')))
            what = ('train, resuming from the newest checkpoint in '
                    f'{stage}' if resume else 'train')
            failure = self._step(bench.name, 'train', f'{what} ({config})', [
                config, '--work-dir', stage, *['--resume'] * resume,
                *self.extra_args.get(bench.name, []), *options], record)
            if failure:
                return failure
            ckpt = None if self.args.dry_run else _checkpoint(stage)
        what = (f'test {osp.basename(ckpt)}'
                if ckpt else 'test the checkpoint training leaves')
        test = osp.join(stage, 'test')
        out = ['--out', metrics, '--out-item', 'metrics'] * (not bench.video)
        failure = self._step(bench.name, 'test', what, [
            config, ckpt or f'"$(cat {record})"', '--work-dir', test, *out,
            *options], test if bench.video else metrics)
        logs = sorted(glob.glob(osp.join(test, '*', '*.json')))
        if bench.video and logs and not failure and not self.args.dry_run:
            write_text(metrics, Path(logs[-1]).read_text())  # the newest
        return failure

    def _command(self, name: str, tool: str, args: List[str]) -> List[str]:
        """``tools/<tool>`` (convert, train, test, knn; mmaction2's train
        and test for video) with ``args`` (positional ones first) in one
        process (the conversion always), by torchrun (``dist_*.sh``) or
        srun (``tools/slurm_*.sh``)."""
        opts = self.args
        tools = self.tools if tool in ('train', 'test') else 'tools'
        if opts.launcher == 'none' or tool == 'convert':
            script = dict(knn='knn_eval', convert='convert_checkpoint')
            return [sys.executable, f'{tools}/{script.get(tool, tool)}.py',
                    *args]
        n = 2 if tool == 'test' else 1  # positional arguments
        if opts.launcher == 'pytorch':
            return [f'{tools}/dist_{tool}.sh', *args[:n], str(opts.gpus),
                    *args[n:]]
        per_node = os.environ.get('GPUS_PER_NODE') or str(min(opts.gpus, 8))
        return ['env', f'GPUS={opts.gpus}', f'GPUS_PER_NODE={per_node}',
                f'tools/slurm_{tool}.sh', opts.partition, f'{opts.job_name}-'
                f'{name}{"-test" * (tool == "test")}', *args]

    def _say(self, name: str, text: str) -> None:
        """Print ``[i/n] name: text``, ``i`` the stage's place in the run."""
        self.echo(f'[{self.names.index(name) + 1}/{len(self.names)}] '
                  f'{name}: {text}')

    def _step(self, name: str, tool: str, what: str, args: List[str],
              output: str) -> Failure:
        """Print the command of ``tool`` and (unless a dry run) run it from
        the repository root, its output added to ``W/<name>/<tool>.log``; a
        failure (status, log) if it exited non-zero or left no ``output``.
        """
        cmd = self._command(name, tool, args)
        left = self.names[self.names.index(name) + 1:]
        left = ['test'] + left if tool == 'train' else left
        # a "$(...)" is the dry run's stand-in for the checkpoint to come
        line = ' '.join(a if a.startswith('"$(') else shlex.quote(a)
                        for a in cmd)
        self._say(name, f'{what}; left after it: '
                  f'{", ".join(left) or "nothing"}\n    {line}')
        if self.args.dry_run:
            return None
        log = osp.join(self.work_dir, name, f'{tool}.log')
        os.makedirs(osp.dirname(log), exist_ok=True)
        start = time.time()
        with open(log, 'a') as f:
            f.write(f'=== hpm_mm benchmark suite, {time.ctime()}: {line}\n')
            f.flush()
            rc = subprocess.call(cmd, cwd=ROOT, stdout=f,
                                 stderr=subprocess.STDOUT)
            f.write(f'=== exit {rc} after {time.time() - start:.1f} s\n')
        if rc == 0 and osp.exists(output):
            return None
        lines = Path(log).read_text(errors='replace').splitlines()
        said = [ln.strip() for ln in lines if ln.strip() and ln[:4] != '=== ']
        self._say(name, f'FAILED ({tool} exit {rc}); log: {log}'
                  f'{": " + said[-1] if said else ""}')
        self.failed.append(name)
        return 'failed' if tool == name else f'failed ({tool})', log

    def _rows(self, bench: Benchmark, stage: str, out: str,
              encoder: Optional[str], status: str,
              log: Optional[str]) -> None:
        """One table row per metric of ``bench``, read from its files."""
        entry = self.models.get(bench.models.get(self.arch), {})
        wall = sum(_ended(osp.join(stage, f'{tool}.log')) or 0.0
                   for tool in ('train', 'test', 'knn')) or None
        for metric in bench.metrics:
            value = None
            try:
                if status == 'done':
                    with open(out) as f:
                        value = metric.scale * float(reduce(
                            lambda node, k: node[k], metric.key, json.load(f)))
            except (OSError, ValueError, KeyError, TypeError):
                self.echo(f'[suite] {bench.name}: {out} has no number at '
                          f'{"/".join(metric.key)!r}')
                self.failed.append(bench.name)
                status, log = 'failed (metrics)', out
            paper = [r['Metrics'][metric.paper]
                     for r in entry.get('Results') or []
                     if (r.get('Metrics') or {}).get(metric.paper)]
            self.rows.append(dict(
                benchmark=bench.name, task=bench.task, metric=metric.label,
                value=value, paper=float(paper[0]) if paper else None,
                config=entry.get('Config', 'tools/knn_eval.py'),
                checkpoint=_checkpoint(stage) if bench.models else encoder,
                wall_s=wall, status=status,
                file=out if status == 'done' else None,
                key='/'.join(metric.key), scale=metric.scale, log=log))

    def _write_results(self) -> None:
        """Write ``results.json``, ``.md`` and ``.png``; print the table."""
        args, rows, arch_name = self.args, self.rows, ARCHS[self.arch][0]
        paths = [osp.join(self.work_dir, f'results.{e}')
                 for e in ('md', 'json', 'png')]
        write_text(paths[1], json.dumps(dict(
            checkpoint=osp.abspath(args.checkpoint), source=args.source,
            arch=self.arch, arch_name=arch_name, work_dir=self.work_dir,
            paper=PAPER[self.video], rows=rows, notes=self.notes),
            indent=2) + '\n')
        table = ['| ' + ' | '.join(c for c, _ in COLUMNS) + ' |',
                 '|' + '---|' * len(COLUMNS)] + [
                     '| ' + ' | '.join(_cell(k, r[k]) for _, k in COLUMNS) +
                     ' |' for r in rows]
        notes = [f'- {r["benchmark"]} {r["status"]}: see `{r["log"]}`'
                 for r in rows if r['log']] + [f'- {n}' for n in self.notes]
        write_text(paths[0], '\n'.join([
            '# Benchmark results', '',
            f'- checkpoint: `{osp.abspath(args.checkpoint)}` ({args.source}, '
            f'{arch_name})', f'- work dir: `{self.work_dir}`',
            f'- paper: {PAPER[self.video]}, from the metafiles (`Results`); '
            '`-` where none is reported', '', *table, *[''] * bool(notes),
            *notes]) + '\n')
        plot_results(rows, paths[2], f'{osp.basename(args.checkpoint)} '
                     f'({args.source}, {arch_name})',
                     'VideoMAE' if self.video else 'paper')
        for line in table + [f'[suite] results: {", ".join(paths)}']:
            self.echo(line)


def _cell(key: str, value) -> str:
    """A table cell: ``-`` for None, H:MM:SS for a wall time."""
    if value is None:
        return '-'
    if key == 'wall_s':
        s = int(round(value))
        return f'{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}'
    return f'{value:.2f}' if isinstance(value, float) else str(
        value).replace('|', '\\|')


def plot_results(rows: List[dict], path: str, title: str,
                 paper: str = 'paper') -> None:
    """``results.png``: ours beside the ``paper``'s for each of the
    ``rows``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend
    fig = Figure(figsize=(max(6.0, 1.6 * len(rows)), 4.0))
    ax = fig.add_subplot(ylabel='%', title=title)
    for shift, key, label in ((-0.19, 'value', 'ours'),
                              (0.19, 'paper', paper)):
        bars = ax.bar([i + shift for i in range(len(rows))],
                      [r[key] or 0.0 for r in rows], 0.38, label=label)
        ax.bar_label(bars, ['-' if r[key] is None else f'{r[key]:.1f}'
                            for r in rows], fontsize=8)
    ax.set_xticks(range(len(rows)),
                  [f'{r["benchmark"]}\n{r["metric"]}' for r in rows],
                  fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
