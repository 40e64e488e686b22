"""Data structures hpm_mm's APIs return."""
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class HardPatchResult:
    """What HPM does with one image.

    Attributes:
        image (np.ndarray): The model's input: RGB uint8 (H, W, 3), the
            image resized (short side) and centre-cropped to the model's
            size.
        scores (np.ndarray): The teacher's predicted loss of each patch,
            float (H/p, W/p).
        hard (np.ndarray): Hard-mined patches (the ``n_hard`` top-scored),
            bool (H/p, W/p).
        masked (np.ndarray): All masked patches, hard and random, bool
            (H/p, W/p); ``masked & ~hard`` is the random part.
        recon (np.ndarray, optional): The student's reconstruction of the
            masked patches pasted into the visible input, RGB uint8
            (H, W, 3); None if not asked for.
    """
    image: np.ndarray
    scores: np.ndarray
    hard: np.ndarray
    masked: np.ndarray
    recon: Optional[np.ndarray] = None


@dataclass
class HardTubeResult:
    """What a video HPM does with one clip: :class:`HardPatchResult` over
    time, on the grid of (T / tubelet, H / p, W / p) tokens (token ``n = t *
    Hp * Wp + h * Wp + w``; a tube is one spatial position at every step).

    Attributes:
        frames (np.ndarray): The model's input: RGB uint8 (T, H, W, 3), the
            sampled frames resized (short side) and centre-cropped.
        scores (np.ndarray): The teacher's predicted loss of each token,
            float (T / tubelet, Hp, Wp); a tube's score is its mean over
            time.
        hard (np.ndarray): Mined tokens, bool (T / tubelet, Hp, Wp): whole
            tubes (the same at every step) unless the masker mines tokens.
        masked (np.ndarray): All masked tokens, mined and random, bool
            (T / tubelet, Hp, Wp); ``masked & ~hard`` is the random part.
        recon (np.ndarray, optional): The student's reconstruction of the
            masked tokens pasted into the visible input, RGB uint8
            (T, H, W, 3); None if not asked for.
    """
    frames: np.ndarray
    scores: np.ndarray
    hard: np.ndarray
    masked: np.ndarray
    recon: Optional[np.ndarray] = None
