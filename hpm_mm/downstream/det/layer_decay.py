"""Layer-wise learning-rate decay for detectors with a ViT backbone."""
from functools import partial
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-decay constructor, for mmdet detectors.

    mmpretrain's constructor asks the *model* for ``get_layer_depth``, which
    only its classifiers have; here it comes from the backbone (e.g.
    :class:`ViTDet`): block ``i`` of ``L`` gets ``lr * layer_decay_rate **
    (L - i)``, the neck and heads the full lr. ``paramwise_cfg`` is
    mmpretrain's.
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add the parameter groups of ``module`` (see the base class)."""
        if get_layer_depth is None and prefix == '':
            backbone = getattr(module, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(
                    'ViTLayerDecayOptimWrapperConstructor: the model needs a '
                    'backbone with get_layer_depth (e.g. ViTDet), got '
                    f'{type(backbone).__name__}')
            get_layer_depth = partial(
                backbone.get_layer_depth, prefix='backbone.')
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)
