"""What HPM mines: teacher heat map, hard/random mask, reconstruction."""
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np
import torch
from PIL import Image


@dataclass
class HardPatchResult:
    """Per-image outputs of one HPM masking + reconstruction pass.

    Attributes:
        image (np.ndarray): Input, uint8 (H, W, 3).
        scores (np.ndarray): Teacher's predicted loss per patch (h, w).
        hard (np.ndarray): Hard-mined patches, bool (h, w).
        masked (np.ndarray): All masked patches, bool (h, w).
        recon (np.ndarray): Reconstruction pasted into the visible input,
            uint8 (H, W, 3).
    """
    image: np.ndarray
    scores: np.ndarray
    hard: np.ndarray
    masked: np.ndarray
    recon: np.ndarray


def load_image(path: str, size: int) -> np.ndarray:
    """Read an image file; see :func:`load_image_array`.

    Raises:
        OSError: One line naming ``path`` when it is missing, not an image
            or truncated (:func:`hpm_mm.datasets.read_image`).
    """
    from ..datasets import read_image
    return load_image_array(read_image(path), size)


def load_image_array(array: np.ndarray, size: int) -> np.ndarray:
    """Resize the short side to ``size`` and centre-crop, as RGB uint8."""
    img = Image.fromarray(array).convert('RGB')
    scale = size / min(img.size)
    img = img.resize((max(size, round(img.width * scale)),
                      max(size, round(img.height * scale))), Image.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)))


@torch.no_grad()
def mine_hard_patches(model, images: Sequence[np.ndarray],
                      alpha: float = 0.5,
                      seed: int = 0) -> List[HardPatchResult]:
    """Run the teacher, the masker and the student on RGB images.

    Args:
        model (HPM): An HPM model (eval mode is set here).
        images (Sequence[np.ndarray]): RGB uint8 images (H, W, 3) of the
            model's input size.
        alpha (float): Hard fraction used for the mask. Defaults to 0.5,
            the end of the easy-to-hard schedule.
        seed (int): Seed of the random part of the mask.

    Returns:
        list[HardPatchResult]: One result per image.
    """
    model.eval()
    pre = model.data_preprocessor
    device = next(model.parameters()).device
    # the model's own normalisation (identity if its preprocessor has none)
    mean = getattr(pre, 'mean', torch.zeros(3)).view(1, 3, 1, 1).to(device)
    std = getattr(pre, 'std', torch.ones(3)).view(1, 3, 1, 1).to(device)
    batch = torch.stack([torch.from_numpy(im.copy()).permute(2, 0, 1)
                         for im in images]).to(device)
    x = (batch.float() - mean) / std
    B = x.shape[0]
    L, M = model.backbone.num_patches, model.backbone.num_masked
    h = w = int(L**.5)
    scores = model.teacher_scores(x)
    n_hard = model.masker.num_hard(M, alpha)
    torch.manual_seed(seed)
    mask = model.masker(scores, M, n_hard, B, L, device=device)
    hard = torch.zeros_like(mask)
    if n_hard:
        hard.scatter_(1, torch.topk(scores, n_hard, dim=1).indices, True)
    latent, _, ids_restore = model.backbone(x, mask)
    pred, _ = model.neck(latent, ids_restore)
    head = model.head
    if head.norm_pix:
        target = head.patchify(x)
        mean = target.mean(-1, keepdim=True)
        std = (target.var(-1, keepdim=True) + 1e-6)**.5
        pred = pred * std + mean
    keep = head.patchify(x)
    patches = torch.where(mask.unsqueeze(-1), pred, keep)
    recon = head.unpatchify(patches)
    recon = recon * std + mean
    recon = recon.clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
    return [
        HardPatchResult(
            image=images[i],
            scores=scores[i].view(h, w).cpu().numpy(),
            hard=hard[i].view(h, w).cpu().numpy(),
            masked=mask[i].view(h, w).cpu().numpy(),
            recon=recon[i]) for i in range(B)
    ]


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
        results (Sequence[HardPatchResult]): From :func:`mine_hard_patches`.
        out_file (str): PNG path.
        title (str): Figure title.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = ('input', "teacher's predicted loss",
            'mask: hard-mined (red) / random (blue)', 'reconstruction')
    fig, axes = plt.subplots(
        len(results), 4, figsize=(13, 3.3 * len(results)), squeeze=False)
    for row, r in zip(axes, results):
        row[0].imshow(r.image)
        heat = row[1].imshow(r.scores, cmap='inferno')
        fig.colorbar(heat, ax=row[1], fraction=0.046, pad=0.04)
        row[2].imshow(_mask_overlay(r))
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
