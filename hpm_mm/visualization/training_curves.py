"""Training curves from mmengine's scalar log (vis_data/*.json)."""
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence

KEYS = ('loss_rec', 'loss_pred', 'rank_acc', 'alpha')


def read_scalars(work_dir: str) -> List[Dict]:
    """Training records of the newest run in ``work_dir``.

    Args:
        work_dir (str): An mmengine work dir (``<timestamp>/vis_data``).

    Returns:
        list[dict]: One dict per logged training iteration.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    files = [f for f in files if not f.endswith('config.json')]
    if not files:
        raise FileNotFoundError(f'no scalar log under {work_dir}/*/vis_data')
    with open(files[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'loss_rec' in r]


def plot_training_curves(work_dir: str, out_file: str,
                         keys: Sequence[str] = KEYS) -> str:
    """Plot ``keys`` against iteration into a PNG.

    Args:
        work_dir (str): mmengine work dir of the run.
        out_file (str): PNG path.
        keys (Sequence[str]): Logged scalars to plot.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = read_scalars(work_dir)
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, key in zip(axes, keys):
        pts = [(r['iter'], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1.5)
        if key == 'rank_acc':
            ax.axhline(0.5, color='gray', ls='--', lw=1, label='chance')
            ax.legend(loc='lower right')
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file
