"""Figures of HPM: what the teacher mines on images, and training curves.

The mined patches come from :class:`hpm_mm.apis.HardPatchInferencer`, the
curves from mmengine's scalar log (``<timestamp>/vis_data/*.json``). Both
are written as PNGs with matplotlib's Agg backend (no display needed).
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from hpm_mm.structures import HardPatchResult

#: The scalars :func:`plot_training_curves` draws.
CURVES = ('loss_rec', 'loss_pred', 'rank_acc', 'alpha')


def _subplots(rows: int, cols: int, width: float, height: float):
    """A figure and its (rows, cols) array of axes, Agg backend."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False)


def _save(fig, out_file: str) -> str:
    """Write ``fig`` to ``out_file``, close it, return ``out_file``."""
    import matplotlib.pyplot as plt
    title = 0.4 / fig.get_figheight() if fig.get_suptitle() else 0
    fig.tight_layout(rect=(0, 0, 1, 1 - title))  # room for the suptitle
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file


def mask_overlay(image: np.ndarray, hard: np.ndarray,
                 masked: np.ndarray) -> np.ndarray:
    """An image dimmed under its masked patches: hard-mined red, random blue.

    Args:
        image (np.ndarray): RGB uint8 (H, W, 3).
        hard (np.ndarray): Mined patches, bool (H / p, W / p).
        masked (np.ndarray): Masked patches, bool (H / p, W / p).

    Returns:
        np.ndarray: RGB uint8 (H, W, 3).
    """
    cell = image.shape[0] // masked.shape[0]
    up = lambda m: np.kron(m, np.ones((cell, cell), dtype=bool))  # noqa
    out = image.astype(np.float32)
    for region, color in ((up(hard), (220, 40, 40)),
                          (up(masked & ~hard), (60, 110, 230))):
        out[region] = 0.35 * out[region] + 0.65 * np.array(color)
    return out.clip(0, 255).astype(np.uint8)


def plot_hard_patches(results: Sequence[HardPatchResult], out_file: str,
                      title: str = '') -> str:
    """Save a grid: input | teacher heat map | hard/random mask | recon.

    Args:
        results (Sequence[HardPatchResult]): From
            :class:`~hpm_mm.apis.HardPatchInferencer`; the reconstruction
            column is left out when they have none.
        out_file (str): PNG path.
        title (str): Figure title.

    Returns:
        str: ``out_file``.
    """
    cols = ['input', "teacher's predicted loss",
            'mask: hard-mined (red) / random (blue)']
    with_recon = all(r.recon is not None for r in results)
    if with_recon:
        cols.append('reconstruction')
    fig, axes = _subplots(len(results), len(cols), 3.3, 3.3)
    for row, r in zip(axes, results):
        row[0].imshow(r.image)
        heat = row[1].imshow(r.scores, cmap='inferno')
        fig.colorbar(heat, ax=row[1], fraction=0.046, pad=0.04)
        row[2].imshow(mask_overlay(r.image, r.hard, r.masked))
        if with_recon:
            row[3].imshow(r.recon)
        for ax, name in zip(row, cols):
            ax.set_xticks([])
            ax.set_yticks([])
            if row is axes[0]:
                ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    return _save(fig, out_file)


def read_scalars(work_dir: str) -> List[Dict]:
    """Training records, one dict per logged iteration, of the newest run
    in the mmengine work dir ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    files = [f for f in files if not f.endswith('config.json')]
    if not files:
        raise FileNotFoundError(f'no scalar log under {work_dir}/*/vis_data')
    with open(files[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'loss_rec' in r]


def plot_training_curves(work_dir: str, out_file: str) -> str:
    """Plot :data:`CURVES` of the run in ``work_dir`` against iteration
    into the PNG ``out_file``; returns ``out_file``."""
    rows = read_scalars(work_dir)
    fig, axes = _subplots(1, len(CURVES), 4, 3.2)
    for ax, key in zip(axes[0], CURVES):
        pts = [(r['iter'], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1.5)
        if key == 'rank_acc':
            ax.axhline(0.5, color='gray', ls='--', lw=1, label='chance')
            ax.legend(loc='lower right')
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    return _save(fig, out_file)
