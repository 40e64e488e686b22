"""HardPatchInferencer: what HPM mines on given images."""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.image import imread
from mmengine.config import Config
from mmengine.model import BaseModel
from mmpretrain.apis import ModelHub, get_model
from mmpretrain.apis.base import BaseInferencer
from PIL import Image

from hpm_mm.converters import load_weights, read_state_dict
from hpm_mm.datasets import read_image
from hpm_mm.models import HPM
from hpm_mm.models.maskers import top_ranked
from hpm_mm.structures import HardPatchResult

InputType = Union[str, np.ndarray]


def resize_center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize the short side to ``size`` (bicubic) and centre-crop.

    Args:
        rgb (np.ndarray): RGB (or gray) uint8 image.
        size (int): Output side.

    Returns:
        np.ndarray: RGB uint8 (size, size, 3).
    """
    img = Image.fromarray(rgb).convert('RGB')
    scale = size / min(img.size)
    img = img.resize((max(size, round(img.width * scale)),
                      max(size, round(img.height * scale))), Image.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)))


class HardPatchInferencer(BaseInferencer):
    """Per-patch predicted losses and the mask HPM would draw.

    For each image: the EMA teacher scores every patch of the unmasked
    image (its predicted reconstruction loss), the masker masks the
    ``n_hard = int(M * alpha)`` top-scored patches plus random ones up to
    ``M``, and, optionally, the student reconstructs the masked patches.
    This is one training step's masking (:meth:`HPM.loss`) without the
    losses.

    Args:
        model (str | Config | BaseModel): An HPM config file, a Config, a
            model name of ``mmpretrain.list_models('*hpm*')``, or a built
            :class:`HPM` (weights as they are).
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
        if not isinstance(model, BaseModel):
            cfg = self._load_config(model)
            if checkpoint is None:
                raise ValueError(f'no checkpoint given for {model}')
            model = get_model(cfg)
        if not isinstance(model, HPM):
            raise TypeError(f'not an HPM model: {type(model).__name__}')
        if checkpoint is not None:
            self.load_checkpoint(model, checkpoint)
        self.model = model.to(device).eval()
        self.config = getattr(model, '_config', None)
        self.pipeline = self._init_pipeline(self.config)
        self.visualizer = None

    @staticmethod
    def _load_config(model: Union[str, Config]) -> Config:
        """Config of a config file, a Config or a model-index name."""
        if isinstance(model, Config):
            cfg = model
        elif isinstance(model, str) and model.endswith('.py'):
            if not osp.isfile(model):
                raise FileNotFoundError(f'config file not found: {model}')
            cfg = Config.fromfile(model)
        elif isinstance(model, str):
            cfg = ModelHub.get(model).config
        else:
            raise TypeError('model must be a config file, a Config, a model '
                            f'name or an HPM model, got {type(model)}')
        model_type = cfg.get('model', {}).get('type')
        if model_type != 'HPM':
            raise TypeError(f'{getattr(cfg, "filename", None) or model} is '
                            f'not an HPM config (model type {model_type!r})')
        return cfg

    @staticmethod
    def load_checkpoint(model: HPM, checkpoint: str) -> None:
        """Load a whole HPM checkpoint into ``model``, strictly.

        The one place where the inferencer reads weights.

        Raises:
            FileNotFoundError: If the file does not exist.
            CheckpointError: If it is not a checkpoint, is in another format
                (e.g. the authors' released one) or misses, adds or
                mis-shapes any of the model's keys.
        """
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'checkpoint file not found: {checkpoint}')
        load_weights(model, read_state_dict(checkpoint), checkpoint)

    def _init_pipeline(self, cfg: Optional[Config]) -> Callable:
        """Image file or BGR array -> RGB crop of the model's input size."""
        size = self.model.backbone.img_size
        if size[0] != size[1]:
            raise ValueError(f'HardPatchInferencer: square inputs only, the '
                             f'model takes {size}')

        def load(inp: InputType) -> np.ndarray:
            if isinstance(inp, str):  # one-line errors naming the file
                return resize_center_crop(read_image(inp), size[0])
            img = imread(inp)  # BGR, as mmcv/mmpretrain read images
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            return resize_center_crop(
                np.ascontiguousarray(img[..., 2::-1]), size[0])

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
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if return_recon and not hasattr(self.model.head, 'patchify'):
            raise ValueError(
                f'{type(self.model.head).__name__} reconstructs features, '
                'not pixels: use return_recon=False for its scores and mask')
        images = [self.pipeline(x) for x in self._inputs_to_list(inputs)]
        device = next(self.model.parameters()).device
        cuda = [device] if device.type == 'cuda' else []
        results = []
        with torch.random.fork_rng(devices=cuda):
            if seed is not None:
                torch.manual_seed(seed)
            for chunk in self._get_chunk_data(images, batch_size):
                results.extend(self.forward(chunk, alpha, return_recon))
        return results

    @torch.no_grad()
    def forward(self, images: List[np.ndarray], alpha: float,
                return_recon: bool) -> List[HardPatchResult]:
        """One batch of RGB crops of the model's input size."""
        model = self.model
        bgr = np.stack(images)[..., ::-1].copy()
        batch = torch.from_numpy(bgr).permute(0, 3, 1, 2)
        x = model.data_preprocessor(
            dict(inputs=batch, data_samples=None), False)['inputs']
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
                image=images[i],
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

    def postprocess(self, preds, *args, **kwargs):
        """Results are returned as they are (:class:`HardPatchResult`)."""
        return preds
