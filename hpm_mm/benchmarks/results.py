"""Reading a stage's numbers from its result files, and the results table.

Every value comes from a file a run wrote: the test tool's metrics
(``tools/test.py --out FILE --out-item metrics``) or the kNN tool's JSON
(``tools/knn_eval.py --out FILE``); nothing is parsed from printed text.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from ..fileio import write_atomically, write_text

#: Columns of ``results.md``, with the row keys they show.
COLUMNS = (('Benchmark', 'benchmark'), ('Task', 'task'),
           ('Metric', 'metric'), ('Ours', 'value'), ('Paper', 'paper'),
           ('Config', 'config'), ('Checkpoint', 'checkpoint'),
           ('Wall time', 'wall_s'), ('Status', 'status'))


class ResultFileError(ValueError):
    """A result file that is missing or lacks a metric; names both."""


def read_metric(path: str, key: Sequence[str]) -> float:
    """The number at ``key`` in the JSON file ``path``.

    Args:
        path (str): A result file.
        key (Sequence[str]): Path of the value, e.g. ``('mIoU', )`` or
            ``('results', '20', 'top1')``.

    Returns:
        float: The value.

    Raises:
        ResultFileError: The file is missing or not JSON, or has no number
            at ``key``.
    """
    if not osp.isfile(path):
        raise ResultFileError(f'result file not found: {path}')
    try:
        with open(path) as f:
            node: Any = json.load(f)
    except (OSError, ValueError):
        raise ResultFileError(f'not a JSON result file: {path}') from None
    for part in key:
        if not isinstance(node, dict) or part not in node:
            raise ResultFileError(f'{path} has no {"/".join(key)!r} '
                                  f'(keys: {", ".join(map(str, node))})'
                                  if isinstance(node, dict) else
                                  f'{path} has no {"/".join(key)!r}')
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ResultFileError(f'{path}: {"/".join(key)!r} is not a number: '
                              f'{node!r}')
    return float(node)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return '-'
    if key == 'wall_s':
        minutes, seconds = divmod(int(round(value)), 60)
        hours, minutes = divmod(minutes, 60)
        return f'{hours}:{minutes:02d}:{seconds:02d}'
    if isinstance(value, float):
        return f'{value:.2f}'
    return str(value).replace('|', '\\|')


def format_markdown(summary: dict) -> str:
    """``results.md``: the inputs, then one table row per metric.

    Args:
        summary (dict): What :func:`write_results` writes as JSON.

    Returns:
        str: Markdown text.
    """
    lines = [
        '# Benchmark results', '',
        f'- checkpoint: `{summary["checkpoint"]}` ({summary["source"]}, '
        f'{summary["arch_name"]})',
        f'- work dir: `{summary["work_dir"]}`',
        '- paper: the numbers of the metafiles (`Results`); `-` where the '
        'paper reports none', '',
        '| ' + ' | '.join(c for c, _ in COLUMNS) + ' |',
        '|' + '---|' * len(COLUMNS),
    ]
    for row in summary['rows']:
        lines.append('| ' + ' | '.join(_cell(k, row.get(k))
                                       for _, k in COLUMNS) + ' |')
    failed = [r for r in summary['rows'] if r.get('log')]
    if failed or summary.get('notes'):
        lines.append('')
    for row in failed:
        lines.append(f'- {row["benchmark"]} {row["status"]}: see '
                     f'`{row["log"]}`')
    for note in summary.get('notes', []):
        lines.append(f'- {note}')
    return '\n'.join(lines) + '\n'


def plot_results(rows: List[dict], path: str, title: str) -> None:
    """``results.png``: ours beside the paper's, one pair of bars per row.

    Args:
        rows (list[dict]): Table rows (``value`` and ``paper`` may be None).
        path (str): PNG file.
        title (str): Figure title.
    """
    # The object API with the Agg canvas: no global backend change.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    labels = [f'{r["benchmark"]}\n{r["metric"]}' for r in rows]
    ours = [r['value'] if r['value'] is not None else 0.0 for r in rows]
    paper = [r['paper'] if r['paper'] is not None else 0.0 for r in rows]
    fig = Figure(figsize=(max(6.0, 1.6 * len(rows)), 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = range(len(rows))
    width = 0.38
    bars = ax.bar([x - width / 2 for x in xs], ours, width, label='ours')
    pbars = ax.bar([x + width / 2 for x in xs], paper, width,
                   label='paper')
    for bar, row in zip(bars, rows):
        ax.annotate('-' if row['value'] is None else f'{row["value"]:.1f}',
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha='center', va='bottom', fontsize=8)
    for bar, row in zip(pbars, rows):
        ax.annotate('-' if row['paper'] is None else f'{row["paper"]:.1f}',
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha='center', va='bottom', fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel('%')
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=120,
                                                   format='png'))


def write_results(work_dir: str, summary: dict) -> Dict[str, str]:
    """Write ``results.json``, ``results.md`` and ``results.png``.

    Args:
        work_dir (str): The suite's work dir.
        summary (dict): ``checkpoint``, ``source``, ``arch``, ``arch_name``,
            ``work_dir``, ``rows`` (one dict per metric: ``benchmark``,
            ``task``, ``metric``, ``value``, ``paper``, ``config``,
            ``checkpoint``, ``wall_s``, ``status``, ``file``, ``key``,
            ``log``) and ``notes``.

    Returns:
        dict[str, str]: The paths, by extension.
    """
    paths = {ext: osp.join(work_dir, f'results.{ext}')
             for ext in ('json', 'md', 'png')}
    write_text(paths['json'], json.dumps(summary, indent=2) + '\n')
    write_text(paths['md'], format_markdown(summary))
    plot_results(summary['rows'], paths['png'],
                 f'{osp.basename(summary["checkpoint"])} '
                 f'({summary["source"]}, {summary["arch_name"]})')
    return paths


def row_value(value: Optional[float], scale: float) -> Optional[float]:
    """A file's value in the paper's unit."""
    return None if value is None else value * scale
