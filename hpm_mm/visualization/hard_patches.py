"""Drawing what HPM mines: teacher heat map, hard/random mask, recon.

The results come from :class:`hpm_mm.apis.HardPatchInferencer`.
"""
from typing import Sequence

import numpy as np

from hpm_mm.structures import HardPatchResult


def _mask_overlay(r: HardPatchResult) -> np.ndarray:
    """Input dimmed where visible; hard patches red, random patches blue."""
    size = r.image.shape[0]
    cell = size // r.masked.shape[0]
    up = lambda m: np.kron(m, np.ones((cell, cell), dtype=bool))  # noqa
    out = r.image.astype(np.float32)
    for region, color in ((up(r.hard), (220, 40, 40)),
                          (up(r.masked & ~r.hard), (60, 110, 230))):
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
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = ['input', "teacher's predicted loss",
            'mask: hard-mined (red) / random (blue)']
    with_recon = all(r.recon is not None for r in results)
    if with_recon:
        cols.append('reconstruction')
    fig, axes = plt.subplots(
        len(results), len(cols), figsize=(3.3 * len(cols), 3.3 * len(results)),
        squeeze=False)
    for row, r in zip(axes, results):
        row[0].imshow(r.image)
        heat = row[1].imshow(r.scores, cmap='inferno')
        fig.colorbar(heat, ax=row[1], fraction=0.046, pad=0.04)
        row[2].imshow(_mask_overlay(r))
        if with_recon:
            row[3].imshow(r.recon)
        for ax, name in zip(row, cols):
            ax.set_xticks([])
            ax.set_yticks([])
            if row is axes[0]:
                ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file
