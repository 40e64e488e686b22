"""The benchmarks of the paper's results table, and what each one needs.

A benchmark is trained with a repository config and scored by the test
tool (ImageNet fine-tuning, linear probing, COCO, ADE20K), or scored
directly by ``tools/knn_eval.py`` (kNN). Which config, and the paper's
number, come from the metafiles of the model index: a benchmark names its
metafile entry per encoder size, nothing else is written here twice.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine

from ..apis.model_index import MIM_ROOT, MODEL_INDEX

#: Encoder sizes the benchmark configs exist for (mmpretrain arch names).
ARCHS = ('b', 'l')
ARCH_NAMES = dict(b='ViT-B', l='ViT-L')


@dataclass(frozen=True)
class Metric:
    """One number a benchmark reports.

    Attributes:
        key (tuple[str]): Path of the value in the result file, e.g.
            ``('accuracy/top1', )`` in the test tool's metrics or
            ``('results', '20', 'top1')`` in the kNN tool's JSON.
        label (str): Column text, e.g. ``'top-1 (%)'``.
        paper (str, optional): The metric's name in the metafile
            (``Results[].Metrics``), None if the paper has no such number.
        scale (float): Factor from the file's unit to the paper's (COCO
            AP: mmdet writes 0-1, papers print %).
    """
    key: Tuple[str, ...]
    label: str
    paper: Optional[str] = None
    scale: float = 1.0


@dataclass(frozen=True)
class Benchmark:
    """One row group of the results table.

    Attributes:
        name (str): Command-line name (``finetune``, ``coco``, ...).
        task (str): What the table calls it.
        dataset (str): Key of its ``--data-root`` (``imagenet``, ...).
        models (dict[str, str]): Encoder size -> metafile model name; empty
            for the kNN tool, which needs no config.
        metrics (tuple[Metric]): What it reports.
        data_root_keys (tuple[str]): Config entries set to the data root.
        ann_file_keys (tuple[tuple[str, str]]): Config entries set to a
            file under the data root: ``(key, path relative to the root)``.
    """
    name: str
    task: str
    dataset: str
    models: Dict[str, str] = field(default_factory=dict)
    metrics: Tuple[Metric, ...] = ()
    data_root_keys: Tuple[str, ...] = ()
    ann_file_keys: Tuple[Tuple[str, str], ...] = ()

    @property
    def uses_config(self) -> bool:
        """Trained by ``tools/train.py`` and scored by ``tools/test.py``."""
        return bool(self.models)


_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_TOP1 = Metric(('accuracy/top1', ), 'top-1 (%)', 'Top 1 Accuracy')

BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark(
        'finetune', 'ImageNet-1k fine-tuning', 'imagenet',
        dict(b='vit-base-p16_hpm-800e-pre_8xb48-coslr-100e_in1k',
             l='vit-large-p16_hpm-800e-pre_8xb64-coslr-50e_in1k'),
        (_TOP1, ),
        tuple(f'{k}.dataset.data_root' for k in _LOADERS)),
    Benchmark(
        'linear', 'ImageNet-1k linear probe', 'imagenet',
        dict(b='vit-base-p16_hpm-800e-pre_8xb256-linear-coslr-100e_in1k'),
        (_TOP1, ),
        tuple(f'{k}.dataset.data_root' for k in _LOADERS)),
    Benchmark(
        'knn', 'ImageNet-1k kNN (k=20)', 'imagenet', {},
        (Metric(('results', '20', 'top1'), 'top-1 (%)'), )),
    Benchmark(
        'coco', 'COCO Mask R-CNN', 'coco',
        dict(b='mask-rcnn_vit-base-p16_hpm-800e-pre_8xb8-lsj-100e_coco',
             l='mask-rcnn_vit-large-p16_hpm-800e-pre_8xb8-lsj-100e_coco'),
        (Metric(('coco/bbox_mAP', ), 'AP box', 'box AP', 100.0),
         Metric(('coco/segm_mAP', ), 'AP mask', 'mask AP', 100.0)),
        ('train_dataloader.dataset.dataset.data_root',
         'val_dataloader.dataset.data_root',
         'test_dataloader.dataset.data_root'),
        (('val_evaluator.ann_file', 'annotations/instances_val2017.json'),
         ('test_evaluator.ann_file', 'annotations/instances_val2017.json'))),
    Benchmark(
        'ade20k', 'ADE20K UperNet', 'ade20k',
        dict(b='upernet_vit-base-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-'
             '512x512',
             l='upernet_vit-large-p16_hpm-800e-pre_8xb2-amp-160k_ade20k-'
             '512x512'),
        (Metric(('mIoU', ), 'mIoU (%)', 'mIoU'), ),
        tuple(f'{k}.dataset.data_root' for k in _LOADERS)),
)
#: Benchmark names in the order they run.
NAMES = tuple(b.name for b in BENCHMARKS)
#: The datasets ``--data-root`` takes.
DATASETS = tuple(dict.fromkeys(b.dataset for b in BENCHMARKS))
#: The kNN tool's data root when none is given (the cls configs' default).
DEFAULT_IMAGENET = 'data/imagenet'


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; ``ValueError`` naming the choices."""
    for bench in BENCHMARKS:
        if bench.name == name:
            return bench
    raise ValueError(f'unknown benchmark {name!r}; choose from '
                     f'{", ".join(NAMES)}')


def repo_root() -> str:
    """The folder holding ``configs/`` and ``tools/`` (what the commands
    are run from)."""
    return osp.dirname(osp.realpath(osp.join(MIM_ROOT, 'tools')))


def metafile_models(model_index: str = MODEL_INDEX) -> Dict[str, dict]:
    """Every model entry of the model index's metafiles, by name."""
    index = mmengine.load(model_index)
    models = {}
    for rel in index.get('Import', []):
        meta = mmengine.load(osp.join(osp.dirname(model_index), rel))
        for entry in meta.get('Models') or []:
            models[entry['Name']] = entry
    return models


def paper_value(entry: dict, metric: Metric) -> Optional[float]:
    """The paper's number for ``metric`` in a metafile entry, or None."""
    if metric.paper is None:
        return None
    for result in entry.get('Results') or []:
        value = (result.get('Metrics') or {}).get(metric.paper)
        if value is not None:
            return float(value)
    return None


def config_of(bench: Benchmark, arch: str,
              models: Dict[str, dict]) -> Optional[str]:
    """The benchmark's config for ``arch`` (relative to the repository), or
    None when there is none (the paper gives no ViT-L linear probe)."""
    name = bench.models.get(arch)
    if name is None:
        return None
    if name not in models:
        raise ValueError(f'{bench.name}: model {name!r} is in no metafile '
                         f'of {MODEL_INDEX}')
    return models[name]['Config']


def select(names: Sequence[str], arch: str) -> Tuple[List[Benchmark],
                                                     List[str]]:
    """The benchmarks to run for an encoder size.

    Args:
        names (Sequence[str]): Benchmark names, or ``['all']``.
        arch (str): 'b' or 'l'.

    Returns:
        tuple[list[Benchmark], list[str]]: The benchmarks in run order, and
        a note for each one of ``all`` left out (no config for ``arch``).

    Raises:
        ValueError: An unknown name, or one asked for by name that has no
            config for ``arch``.
    """
    wanted = list(NAMES) if list(names) == ['all'] else list(names)
    for name in wanted:
        get_benchmark(name)
    out, notes = [], []
    for bench in BENCHMARKS:
        if bench.name not in wanted:
            continue
        if bench.uses_config and arch not in bench.models:
            msg = (f'{bench.name}: no {ARCH_NAMES[arch]} config (the paper '
                   f'reports this benchmark for '
                   f'{", ".join(ARCH_NAMES[a] for a in bench.models)} only)')
            if list(names) != ['all']:
                raise ValueError(msg)
            notes.append(msg)
            continue
        out.append(bench)
    return out, notes
