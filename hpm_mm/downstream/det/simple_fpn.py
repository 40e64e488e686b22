"""ViTDet's simple feature pyramid: multi-scale maps from one ViT map."""
from typing import Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Build strides 4..32 from the last stride-16 ViT feature map (mmdet).

    Each scale factor gets its own resampling: x4 is two 2x2 transposed
    convolutions with a norm and GELU between them, x2 one transposed
    convolution, x1 the identity, x0.5 a 2x2 max-pool. Every level then
    goes through a 1x1 and a 3x3 convolution, each followed by a norm.
    Levels beyond the scale factors (``num_outs``) are max-pooled with
    stride 2 from the last one (stride 64 for Mask R-CNN's RPN).

    Args:
        in_channels (int): Channels of the backbone map (ViT width).
        out_channels (int): Channels of every output level. Defaults to 256.
        scale_factors (Sequence[float]): Resampling of each level, from 4.0,
            2.0, 1.0, 0.5. Defaults to (4.0, 2.0, 1.0, 0.5).
        num_outs (int): Output levels, >= ``len(scale_factors)``.
            Defaults to 5.
        norm_cfg (dict): Norm of the convolutions; channel-first
            LayerNorm by default, as in ViTDet.
        init_cfg (dict, optional): Initialisation config.
    """

    _STAGES = (4.0, 2.0, 1.0, 0.5)

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: int = 5,
                 norm_cfg: dict = dict(type='mmpretrain.LN2d', eps=1e-6),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        unknown = [s for s in scale_factors if s not in self._STAGES]
        if unknown:
            raise ValueError(f'SimpleFeaturePyramid: unsupported scale '
                             f'factors {unknown}; use {self._STAGES}')
        if num_outs < len(scale_factors):
            raise ValueError(f'SimpleFeaturePyramid: num_outs {num_outs} < '
                             f'{len(scale_factors)} scale factors')
        self.num_outs = num_outs
        self.stages = nn.ModuleList()
        for scale in scale_factors:
            resample, dims = self._resample(scale, in_channels, norm_cfg)
            self.stages.append(
                nn.Sequential(
                    resample,
                    ConvModule(
                        dims, out_channels, 1, norm_cfg=norm_cfg,
                        act_cfg=None),
                    ConvModule(
                        out_channels,
                        out_channels,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg,
                        act_cfg=None)))

    @staticmethod
    def _resample(scale: float, dims: int,
                  norm_cfg: dict) -> Tuple[nn.Module, int]:
        """The resampling layers of one level and its channel count."""
        if scale == 4.0:
            return nn.Sequential(
                nn.ConvTranspose2d(dims, dims // 2, 2, stride=2),
                build_norm_layer(norm_cfg, dims // 2)[1], nn.GELU(),
                nn.ConvTranspose2d(dims // 2, dims // 4, 2,
                                   stride=2)), dims // 4
        if scale == 2.0:
            return nn.ConvTranspose2d(dims, dims // 2, 2, stride=2), dims // 2
        if scale == 1.0:
            return nn.Identity(), dims
        return nn.MaxPool2d(2, stride=2), dims

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (tuple[Tensor]): Backbone outputs; the last one,
                (B, C, H, W) at stride s, is used.

        Returns:
            tuple[Tensor]: ``num_outs`` maps (B, out_channels, ., .), one
            per scale factor (H * factor) then the extra pooled levels.
        """
        x = inputs[-1]
        outs = [stage(x) for stage in self.stages]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
