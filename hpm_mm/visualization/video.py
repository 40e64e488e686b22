"""The figure of what a video HPM mines on clips, step by step in time.

The results come from :class:`hpm_mm.apis.HardTubeInferencer`. One block
of rows per clip, one column per time step (the first frame of each
tubelet) and a last column with the tube scores (the per-token scores
averaged over time, what :class:`HardTubeMasker` ranks).
"""
from typing import Sequence

from hpm_mm.structures import HardTubeResult
from .figures import _save, _subplots, mask_overlay

#: The rows of each clip's block, top to bottom.
TUBE_PANELS = ('input', "teacher's predicted loss",
               'mask: mined (red) / random (blue)', 'reconstruction')


def draw_hard_tubes(results: Sequence[HardTubeResult], title: str = ''):
    """Draw, per clip and time step: the frame, the teacher's per-token
    scores (one colour scale per clip), the mask split into mined and
    random tokens, and the reconstruction; the last column shows the tube
    scores.

    Args:
        results (Sequence[HardTubeResult]): From
            :class:`~hpm_mm.apis.HardTubeInferencer`; the reconstruction
            rows are left out when they have none.
        title (str): Figure title.

    Returns:
        matplotlib.figure.Figure: Rows ``TUBE_PANELS`` (without
        'reconstruction' when there is none) per clip, columns the time
        steps and 'tube score'.
    """
    panels = TUBE_PANELS if all(r.recon is not None
                                for r in results) else TUBE_PANELS[:3]
    steps = results[0].scores.shape[0]
    fig, axes = _subplots(len(panels) * len(results), steps + 1, 1.7, 1.7)
    for i, r in enumerate(results):
        rows = axes[i * len(panels):(i + 1) * len(panels)]
        tubelet = r.frames.shape[0] // steps
        lim = dict(vmin=r.scores.min(), vmax=r.scores.max(), cmap='inferno')
        for t in range(steps):
            frame = t * tubelet
            rows[0][t].imshow(r.frames[frame])
            rows[1][t].imshow(r.scores[t], **lim)
            rows[2][t].imshow(mask_overlay(r.frames[frame], r.hard[t],
                                           r.masked[t]))
            if r.recon is not None:
                rows[3][t].imshow(r.recon[frame])
            rows[0][t].set_title(f'frame {frame}', fontsize=8)
        heat = rows[1][steps].imshow(r.scores.mean(0), **lim)
        rows[1][steps].set_title('tube score', fontsize=8)
        fig.colorbar(heat, ax=rows[1][steps], fraction=0.046, pad=0.04)
        for row, name in zip(rows, panels):
            row[0].set_ylabel(name, fontsize=7)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
                if not ax.images:
                    ax.axis('off')
    if title:
        fig.suptitle(title)
    return fig


def plot_hard_tubes(results: Sequence[HardTubeResult], out_file: str,
                    title: str = '') -> str:
    """Save :func:`draw_hard_tubes` of ``results`` as the PNG ``out_file``;
    returns ``out_file``."""
    return _save(draw_hard_tubes(results, title), out_file)
