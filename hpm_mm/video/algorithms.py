"""VideoMAE pre-training and its HPM version."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..errors import ConfigError
from ..models.algorithms.hpm import HPM
from .heads import IMAGENET_MEAN, IMAGENET_STD, HPMVideoHead

#: mmpretrain's video preprocessor with the reference's normalisation.
VIDEO_PREPROCESSOR = dict(
    type='VideoDataPreprocessor',
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    format_shape='NCTHW')


def as_clips(inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """One (B, C, T, H, W) batch from what a data preprocessor gives.

    mmpretrain's ``VideoDataPreprocessor`` passes the collated tensor on:
    (B, 1, C, T, H, W) after mmaction's ``FormatShape('NCTHW')`` and
    ``default_collate`` (one clip per video), or a list of per-video
    (1, C, T, H, W) tensors after ``pseudo_collate``; a self-supervised
    preprocessor gives a list of one (B, C, T, H, W) view. Every clip of
    every video becomes one row.

    Raises:
        ValueError: Inputs that are not clips of 4 trailing dims.
    """
    parts = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not parts or any(not isinstance(p, Tensor) or not 4 <= p.dim() <= 6
                        for p in parts):
        raise ValueError('VideoMAE: inputs must be clips (B, C, T, H, W), '
                         '(B, clips, C, T, H, W) or a list of them, got '
                         f'{type(inputs).__name__}')
    parts = [p.reshape(-1, *p.shape[-4:]) for p in parts]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def tube_shape(backbone) -> dict:
    """The masker's arguments taken from a :class:`VideoMAEViT`."""
    return dict(
        num_patches_per_frame=backbone.grid[1] * backbone.grid[2],
        num_masked_per_frame=backbone.num_masked_per_frame,
        num_frames=backbone.grid[0])


def check_video_shapes(model: BaseSelfSupervisor) -> None:
    """Encoder, decoder, head and data preprocessor must agree.

    Raises:
        ConfigError: Naming the config keys, e.g. ``model.neck.embed_dim is
            384 but model.backbone is 768 wide``.
    """
    bb, neck, head = model.backbone, model.neck, model.head
    width = neck.encoder_to_decoder.in_features
    if width != bb.embed_dims:
        raise ConfigError(f'model.neck.embed_dim is {width} but '
                          f'model.backbone is {bb.embed_dims} wide')
    if neck.num_patches != bb.num_patches:
        raise ConfigError(
            f'model.neck.num_patches is {neck.num_patches} but model.'
            f'backbone has {bb.num_patches} tokens '
            f'({"x".join(map(str, bb.grid))})')
    dt = bb.patch_embed.projection.kernel_size[0]
    for arg, ours, theirs in (('patch_size', head.patch_size, bb.patch_size),
                              ('tubelet_size', head.tubelet_size, dt)):
        if ours != theirs:
            raise ConfigError(f'model.head.{arg} is {ours} but model.'
                              f'backbone.{arg} is {theirs}')
    out, need = neck.head.out_features, 3 * dt * bb.patch_size**2
    if out != need:
        raise ConfigError(
            f'model.neck gives {out} outputs per token but the backbone\'s '
            f'{dt}x{bb.patch_size}x{bb.patch_size} tubelets need {need} '
            '(check model.neck.patch_size and tubelet_size)')
    dp = model.data_preprocessor
    for arg in ('mean', 'std'):
        theirs = getattr(dp, arg, None)
        ours = getattr(head, arg).flatten() * 255
        if theirs is not None and not torch.allclose(
                theirs.flatten().cpu(), ours, rtol=1e-5):
            raise ConfigError(
                f'model.head.{arg} is {ours.tolist()} but model.'
                f'data_preprocessor.{arg} is {theirs.flatten().tolist()}')


@MODELS.register_module()
class VideoMAE(BaseSelfSupervisor):
    """VideoMAE pre-training (Tong et al., NeurIPS 2022).

    One step (:meth:`loss`): a random tube mask (:class:`TubeMasker`,
    ``int(mask_ratio * Hp * Wp)`` positions per time step), the encoder on
    the visible tokens, the decoder's reconstruction of the masked tokens
    and the MSE to their normalised pixels (:class:`VideoMAEHead`). Each
    module initialises itself as the reference does. Masker and head take
    their shapes from the backbone.

    Args:
        backbone (dict): :class:`VideoMAEViT` config.
        neck (dict): :class:`VideoMAEDecoder` config.
        head (dict): :class:`VideoMAEHead` config.
        masker (dict): :class:`TubeMasker` config (its shape comes from the
            backbone). Defaults to ``dict(type='TubeMasker')``.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``VideoDataPreprocessor`` with ImageNet's mean and std.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 masker: dict = dict(type='TubeMasker'),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if neck is None or head is None:
            raise ValueError('VideoMAE: neck and head are required')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=data_preprocessor or dict(VIDEO_PREPROCESSOR),
            init_cfg=init_cfg)
        check_video_shapes(self)
        self.masker = MODELS.build(dict(masker, **tube_shape(self.backbone)))

    def extract_feat(self, inputs: Union[Tensor, List[Tensor]]) -> tuple:
        """Encode all tokens of the clips (no mask): ((B, N, C), )."""
        return self.backbone(as_clips(inputs), None)

    def loss(self, inputs: Union[Tensor, List[Tensor]],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """One VideoMAE step.

        Args:
            inputs (Tensor | list[Tensor]): Normalised clips (B, 3, T, H, W)
                in any form :func:`as_clips` takes.
            data_samples (list[DataSample]): Unused.

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        video = as_clips(inputs)
        mask = self.masker(None, video.shape[0], video.device)
        latent, mask, ids_restore = self.backbone(video, mask)
        pred, _ = self.neck(latent, ids_restore)
        return self.head.loss(pred, video, mask)


@MODELS.register_module()
class VideoHPM(HPM):
    """Hard Patches Mining for VideoMAE.

    These video choices are ours: the HPM authors never released video
    code. :class:`HPM`'s step on clips: the EMA teacher scores every one of
    the N tokens of the unmasked clip with its loss-predictor branch (its
    decoder embeds all N encoder tokens, no mask token);
    :class:`HardTubeMasker` masks the top-scored tubes (scores averaged
    over time) plus random ones, or tokens with ``per_token=True``; the
    student encodes the visible tokens, its decoder
    (:class:`VideoMAEDecoder` with ``loss_predictor=True``, set here)
    reconstructs the masked tokens and predicts their losses, and
    :class:`HPMVideoHead` gives VideoMAE's loss (``loss_rec``) and the
    predictor's (``loss_pred``). Alpha schedule, teacher and its updates
    after each optimizer step are :class:`HPM`'s. At ``n_hard = 0`` the
    mask and the reconstruction are :class:`VideoMAE`'s for the same
    weights and RNG state. No feature targets.

    Args:
        backbone (dict): :class:`VideoMAEViT` config.
        neck (dict): :class:`VideoMAEDecoder` config.
        head (dict): :class:`HPMVideoHead` config.
        masker (dict): :class:`HardTubeMasker` config (its shape comes from
            the backbone).
        teacher (dict): :class:`HPMTeacherEMA` config (without ``model``).
        teacher_dtype (str, optional): See :class:`HPM`.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``VideoDataPreprocessor`` with ImageNet's mean and std.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 masker: dict = dict(type='HardTubeMasker'),
                 teacher: dict = dict(type='HPMTeacherEMA'),
                 teacher_dtype: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if neck is None or head is None:
            raise ValueError('VideoHPM: neck and head are required')
        super().__init__(
            backbone=backbone,
            neck=dict(neck, loss_predictor=True),
            head=head,
            masker=masker,
            teacher=teacher,
            teacher_dtype=teacher_dtype,
            data_preprocessor=data_preprocessor or dict(VIDEO_PREPROCESSOR),
            init_cfg=init_cfg)

    def _check_shapes(self, arch) -> None:
        """:func:`check_video_shapes`, and the head must be
        :class:`HPMVideoHead`."""
        if not isinstance(self.head, HPMVideoHead):
            raise ConfigError('model.head must be HPMVideoHead, got '
                              f'{type(self.head).__name__}')
        check_video_shapes(self)

    def masker_shape(self) -> dict:
        """The masker's arguments taken from the backbone (tube grid)."""
        return tube_shape(self.backbone)

    def init_weights(self) -> None:
        """Each module's reference init (not :class:`HPM`'s MAE init, which
        would re-draw ``encoder_to_decoder``), then the teacher copies the
        student."""
        BaseSelfSupervisor.init_weights(self)
        self.teacher.copy_from(self.student_modules())

    def extract_feat(self,
                     inputs: Union[Tensor, List[Tensor]],
                     source: str = 'student') -> tuple:
        """:meth:`HPM.extract_feat` on clips: ((B, N, C), )."""
        return super().extract_feat(as_clips(inputs), source)

    def loss(self, inputs: Union[Tensor, List[Tensor]],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """One HPM step on clips (:meth:`HPM.loss`).

        Args:
            inputs (Tensor | list[Tensor]): Normalised clips (B, 3, T, H, W)
                in any form :func:`as_clips` takes.
            data_samples (list[DataSample]): Unused.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_pred`` (optimised),
            ``rank_acc`` and ``alpha`` (logged).
        """
        return super().loss(as_clips(inputs), data_samples)
