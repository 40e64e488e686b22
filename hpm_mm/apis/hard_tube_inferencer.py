"""HardTubeInferencer: what a video HPM mines on given clips."""
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.model import BaseModel

from hpm_mm.models.maskers import top_ranked
from hpm_mm.structures import HardTubeResult
from .hard_patch_inferencer import HardPatchInferencer

InputType = Union[str, np.ndarray]


class HardTubeInferencer(HardPatchInferencer):
    """Per-token predicted losses, the tubes a video HPM would mask, and
    its reconstruction, for clips.

    For each clip: the EMA teacher scores every token of the unmasked clip,
    the masker masks the ``int(M * alpha)`` top-scored tubes (tokens, with
    ``per_token=True``) plus random ones up to ``M`` per time step, and,
    optionally, the student reconstructs the masked tokens: one training
    step's masking (:meth:`VideoHPM.loss`) without the losses. A clip of
    ``T`` frames (the model's) is sampled with mmaction2's ``SampleFrames``
    (test mode: centred, every ``frame_interval``-th frame), its frames
    resized (short side, bilinear) and centre-cropped to the model's size.

    Args:
        model (str | Config | BaseModel): A :class:`VideoHPM` config file, a
            Config, or a built :class:`VideoHPM` (weights as they are).
        checkpoint (str, optional): Weights of that model (hpm_mm
            checkpoint), loaded strictly. Required unless ``model`` is a
            built model.
        device (str | torch.device): Device to run on. Defaults to 'cpu'.
        frame_interval (int): Frames between two sampled frames. Defaults
            to 4 (Kinetics-400's 16x4 clips).

    Example:
        >>> from hpm_mm.apis import HardTubeInferencer
        >>> inferencer = HardTubeInferencer(
        ...     'configs/pretrain/hpm_vit-video-demo_cpu.py',
        ...     'outputs/demo_video/iter_600.pth', frame_interval=1)
        >>> result = inferencer('clip.mp4', alpha=0.5)[0]
        >>> result.scores.shape, result.frames.shape  # (T/2, Hp, Wp)
        ((4, 5, 5), (8, 40, 40, 3))
        >>> result.hard[0].sum(), result.masked[0].sum()  # tubes per step
        (11, 22)
    """

    def __init__(self,
                 model: Union[str, Config, BaseModel],
                 checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = 'cpu',
                 frame_interval: int = 4) -> None:
        if isinstance(frame_interval, bool) or not isinstance(
                frame_interval, int) or frame_interval < 1:
            raise ValueError('HardTubeInferencer: frame_interval must be a '
                             f'positive integer, got {frame_interval!r}')
        self.frame_interval = frame_interval
        super().__init__(model, checkpoint, device)

    def _check_model(self, model: BaseModel) -> None:
        """Raise TypeError unless ``model`` is a :class:`VideoHPM`."""
        from hpm_mm.video import VideoHPM  # needs mmaction2
        if not isinstance(model, VideoHPM):
            raise TypeError('HardTubeInferencer: the model is a '
                            f'{type(model).__name__}, not a VideoHPM')

    def _check_recon(self) -> None:
        """A video HPM always reconstructs pixels."""

    def _init_pipeline(self, cfg: Optional[Config]) -> Callable:
        """Video file or RGB array (frames, H, W, 3) -> RGB uint8 clip
        (T, S, S, 3) of the model's length T and size S."""
        from hpm_mm.video.loading import CheckedDecordInit
        from mmaction.datasets.transforms import (ArrayDecode, CenterCrop,
                                                  DecordDecode, Resize,
                                                  SampleFrames)
        steps, hp, _ = self.model.backbone.grid
        size = hp * self.model.backbone.patch_size
        sample = SampleFrames(
            clip_len=steps * self.tubelet,
            frame_interval=self.frame_interval,
            test_mode=True)
        crop = [Resize(scale=(-1, size)), CenterCrop(crop_size=size)]
        from_file = Compose([CheckedDecordInit(), sample, DecordDecode()] +
                            crop)
        from_array = Compose([sample, ArrayDecode()] + crop)

        def load(inp: InputType) -> np.ndarray:
            if isinstance(inp, str):
                out = from_file(dict(filename=inp, start_index=0,
                                     modality='RGB'))
            else:
                out = from_array(
                    dict(array=inp, total_frames=len(inp), start_index=0,
                         modality='RGB'))
            return np.stack(out['imgs'])

        return load

    @property
    def tubelet(self) -> int:
        """Frames per token (the patch embedding's temporal stride)."""
        return self.model.backbone.patch_embed.projection.kernel_size[0]

    def __call__(self,
                 inputs: Union[InputType, Sequence[InputType]],
                 alpha: float = 0.5,
                 seed: Optional[int] = 0,
                 return_recon: bool = True,
                 batch_size: int = 1) -> List[HardTubeResult]:
        """Score, mask and (optionally) reconstruct clips.

        Args:
            inputs (str | np.ndarray | list): Video files, a folder of them,
                or uint8 arrays of frames (frames, H, W, 3) in RGB order
                (as mmaction2 decodes them).
            alpha, seed, return_recon, batch_size: As
                :meth:`HardPatchInferencer.__call__`.

        Returns:
            list[HardTubeResult]: One result per clip, in input order.
        """
        if isinstance(inputs, np.ndarray) and inputs.ndim == 4:
            inputs = [inputs]  # one clip, not a list of frames
        return super().__call__(inputs, alpha, seed, return_recon,
                                batch_size)

    @torch.no_grad()
    def forward(self, batch: torch.Tensor, alpha: float,
                return_recon: bool) -> List[HardTubeResult]:
        """One batch of RGB uint8 clips (B, T, H, W, 3)."""
        model, masker = self.model, self.model.masker
        pre = model.data_preprocessor
        x = batch.permute(0, 4, 1, 2, 3).float().to(pre.mean.device)
        x = (x - pre.mean.view(1, -1, 1, 1, 1)) / pre.std.view(1, -1, 1, 1, 1)
        B, grid = x.shape[0], model.backbone.grid
        scores, _ = model.teacher_forward(x, with_scores=True,
                                          with_tokens=False)
        masker.set_alpha(alpha)
        mask = masker(scores, B, x.device)
        # the mined part of the mask: the top of the tubes' mean scores
        hard = masker.expand(top_ranked(
            masker.pool(scores), masker.num_hard(alpha),
            masker.mine == 'hard'))
        recon = self._reconstruct(x, mask) if return_recon else [None] * B
        return [
            HardTubeResult(
                frames=batch[i].numpy(),
                scores=scores[i].view(grid).cpu().numpy(),
                hard=hard[i].view(grid).cpu().numpy(),
                masked=mask[i].view(grid).cpu().numpy(),
                recon=recon[i]) for i in range(B)
        ]

    def _untokens(self, tokens: torch.Tensor,
                  shape: torch.Size) -> torch.Tensor:
        """Inverse of :meth:`VideoMAEHead.tokens` for clips of ``shape``."""
        B, C, T, H, W = shape
        dt, p = self.tubelet, self.model.backbone.patch_size
        x = tokens.view(B, T // dt, H // p, W // p, dt, p, p, C)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(shape)

    def _reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> list:
        """Student's masked tokens pasted into the input, RGB uint8 clips
        (T, H, W, 3). With the head's ``norm_pix`` the predictions are per
        token and channel normalised; the input's statistics undo that."""
        model, pre = self.model, self.model.data_preprocessor
        latent, _, ids_restore = model.backbone(x, mask)
        pred, _ = model.neck(latent, ids_restore)  # masked tokens, in order
        mean, std = pre.mean.view(1, -1, 1, 1, 1), pre.std.view(1, -1, 1, 1, 1)
        tokens = model.head.tokens((x * std + mean) / 255)  # in [0, 1]
        pred = pred.reshape(-1, tokens.shape[2], 3)
        if model.head.norm_pix:
            mu = tokens.mean(2, keepdim=True)[mask]
            sigma = tokens.std(2, keepdim=True)[mask]  # unbiased, as target
            pred = pred * (sigma + 1e-6) + mu
        tokens[mask] = pred
        clip = self._untokens(tokens, x.shape) * 255
        clip = clip.clamp(0, 255).round().byte().permute(0, 2, 3, 4, 1)
        return list(clip.cpu().numpy())

    def visualize(self, results: Sequence[HardTubeResult], out_file: str,
                  title: str = '') -> str:
        """Draw ``results`` into a PNG (see :func:`plot_hard_tubes`)."""
        from hpm_mm.visualization import plot_hard_tubes
        return plot_hard_tubes(results, out_file, title=title)
