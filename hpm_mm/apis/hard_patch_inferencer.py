"""HardPatchInferencer: what HPM mines on given images."""
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.model import BaseModel
from mmpretrain.apis import get_model
from mmpretrain.apis.base import BaseInferencer
from mmpretrain.datasets.transforms import CenterCrop, ResizeEdge

from hpm_mm.converters import load_weights, read_state_dict
from hpm_mm.datasets import read_image
from hpm_mm.models import HPM
from hpm_mm.models.maskers import top_ranked
from hpm_mm.structures import HardPatchResult

InputType = Union[str, np.ndarray]


class HardPatchInferencer(BaseInferencer):
    """Per-patch predicted losses and the mask HPM would draw.

    For each image: the EMA teacher scores every patch of the unmasked
    image (its predicted reconstruction loss), the masker masks the
    ``n_hard = int(M * alpha)`` top-scored patches plus random ones up to
    ``M``, and, optionally, the student reconstructs the masked patches.
    This is one training step's masking (:meth:`HPM.loss`) without the
    losses. Images are resized (short side, bicubic) and centre-cropped to
    the model's input size.

    Args:
        model (str | Config | BaseModel): An HPM config file, a Config, a
            model name of ``mmpretrain.list_models('*hpm*')`` (built by
            ``mmpretrain.get_model``), or a built :class:`HPM` (weights as
            they are).
        checkpoint (str, optional): Weights of that model (an hpm_mm
            checkpoint, or the authors' converted with
            ``tools/convert_checkpoint.py --to hpm``); loaded strictly.
            Required unless ``model`` is a built model.
        device (str | torch.device): Device to run on. Defaults to 'cpu'.

    Example:
        >>> from hpm_mm.apis import HardPatchInferencer
        >>> inferencer = HardPatchInferencer(
        ...     'configs/pretrain/hpm_vit-b.py', 'hpm_vit-b_800e.pth')
        >>> result = inferencer('demo.jpg', alpha=0.5)[0]
        >>> result.scores.shape, result.hard.sum(), result.masked.sum()
        ((14, 14), 73, 147)
    """

    def __init__(self,
                 model: Union[str, Config, BaseModel],
                 checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = 'cpu') -> None:
        name = type(self).__name__
        if not isinstance(model, BaseModel):
            if checkpoint is None:
                raise ValueError(f'{name}: no checkpoint given for {model}')
            model = get_model(model)
        self._check_model(model)
        if checkpoint is not None:
            load_weights(model, read_state_dict(checkpoint), checkpoint)
        self.model = model.to(device).eval()
        self.pipeline = self._init_pipeline(None)

    def _check_model(self, model: BaseModel) -> None:
        """Raise TypeError unless ``model`` is an image HPM."""
        name, kind = type(self).__name__, type(model).__name__
        if not isinstance(model, HPM):
            raise TypeError(f'{name}: the model is a {kind}, not an HPM')
        if hasattr(model.backbone, 'grid'):  # (T, Hp, Wp) tokens
            raise TypeError(f'{name}: {kind} is a video model, use '
                            'HardTubeInferencer')

    def _check_recon(self) -> None:
        """Raise ValueError if the model cannot give pixels back."""
        if not hasattr(self.model.head, 'patchify'):
            raise ValueError(
                f'{type(self.model.head).__name__} reconstructs features, '
                'not pixels: use return_recon=False for its scores and mask')

    def _init_pipeline(self, cfg: Optional[Config]) -> Callable:
        """Image file or BGR array -> BGR uint8 crop of the model's size."""
        height, width = self.model.backbone.img_size
        crop = Compose([
            ResizeEdge(max(height, width), backend='pillow',
                       interpolation='bicubic'),
            CenterCrop(crop_size=(width, height))
        ])

        def load(inp: InputType) -> np.ndarray:
            # a file through read_image: one-line errors naming it
            bgr = read_image(inp)[..., ::-1] if isinstance(inp, str) else inp
            return crop(dict(img=bgr))['img']

        return load

    def __call__(self,
                 inputs: Union[InputType, Sequence[InputType]],
                 alpha: float = 0.5,
                 seed: Optional[int] = 0,
                 return_recon: bool = True,
                 batch_size: int = 1) -> List[HardPatchResult]:
        """Score, mask and (optionally) reconstruct images.

        Args:
            inputs (str | np.ndarray | list): Image files, a folder of them,
                or uint8 arrays in BGR order (as ``mmcv.imread`` returns).
            alpha (float): Hard fraction of the masked patches, in [0, 1].
                Defaults to 0.5, the end of the easy-to-hard schedule.
            seed (int, optional): Seed of the random part of the mask (the
                global RNG state is left as it was). None: do not seed.
            return_recon (bool): Also run the student and return its
                reconstruction. Defaults to True.
            batch_size (int): Images per forward. Defaults to 1.

        Returns:
            list[HardPatchResult]: One result per image, in input order.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'{type(self).__name__}: alpha must be in '
                             f'[0, 1], got {alpha}')
        if return_recon:
            self._check_recon()
        device = next(self.model.parameters()).device
        results = []
        with torch.random.fork_rng(
                devices=[device] if device.type == 'cuda' else []):
            if seed is not None:
                torch.manual_seed(seed)
            for batch in self.preprocess(
                    self._inputs_to_list(inputs), batch_size=batch_size):
                results.extend(self.forward(batch, alpha, return_recon))
        return results

    @torch.no_grad()
    def forward(self, batch: torch.Tensor, alpha: float,
                return_recon: bool) -> List[HardPatchResult]:
        """One batch of BGR uint8 crops (B, H, W, 3)."""
        model = self.model
        x = model.data_preprocessor(
            dict(inputs=batch.permute(0, 3, 1, 2), data_samples=None),
            False)['inputs']
        B = x.shape[0]
        grid = model.backbone.patch_resolution
        scores, _ = model.teacher_forward(x, with_scores=True,
                                          with_tokens=False)
        masker = model.masker
        masker.set_alpha(alpha)
        mask = masker(scores, B, x.device)
        # the patches the masker mined ('hard' or 'easy')
        hard = top_ranked(scores, masker.num_hard(alpha),
                          masker.mine == 'hard')
        recon = self._reconstruct(x, mask) if return_recon else [None] * B
        return [
            HardPatchResult(
                image=batch[i].numpy()[..., ::-1].copy(),
                scores=scores[i].view(grid).cpu().numpy(),
                hard=hard[i].view(grid).cpu().numpy(),
                masked=mask[i].view(grid).cpu().numpy(),
                recon=recon[i]) for i in range(B)
        ]

    def _reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> list:
        """Student's masked patches pasted into the input, RGB uint8."""
        model, head = self.model, self.model.head
        latent, _, ids_restore = model.backbone(x, mask)
        pred, _ = model.neck(latent, ids_restore)
        target = head.patchify(x)
        if head.norm_pix:  # undo the per-patch normalisation of the target
            pred = pred * (target.var(-1, keepdim=True) + 1e-6)**.5 + \
                target.mean(-1, keepdim=True)
        img = head.unpatchify(torch.where(mask.unsqueeze(-1), pred, target))
        pre = model.data_preprocessor
        img = img * pre.std.view(1, -1, 1, 1) + pre.mean.view(1, -1, 1, 1)
        img = img.clamp(0, 255).round().byte().permute(0, 2, 3, 1)
        return list(img.cpu().numpy())

    def visualize(self, results: Sequence[HardPatchResult], out_file: str,
                  title: str = '') -> str:
        """Draw ``results`` into a PNG (see :func:`plot_hard_patches`)."""
        from hpm_mm.visualization import plot_hard_patches
        return plot_hard_patches(results, out_file, title=title)
