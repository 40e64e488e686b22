"""A frozen ViT encoder, built from any HPM checkpoint, for evaluation."""
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmpretrain.models import VisionTransformer

from ..converters import (CheckpointError, extract_encoder, infer_vit_arch,
                          load_weights, read_checkpoint, summarize_keys)

_ARCH_KEYS = ('embed_dims', 'num_layers', 'feedforward_channels')


def arch_from_config(path: str) -> dict:
    """The ViT arch (with ``num_heads``) of a config's ``model.backbone``:
    an mmpretrain arch name ('b', 'large', ...) or a dict."""
    arch = Config.fromfile(path).get('model', {}).get('backbone',
                                                      {}).get('arch')
    if isinstance(arch, str):
        arch = VisionTransformer.arch_zoo.get(arch.lower())
    if not isinstance(arch, dict) or 'num_heads' not in arch:
        raise ValueError(f'{path}: model.backbone.arch is not an mmpretrain '
                         'ViT arch name or a dict with num_heads')
    return dict(arch)


def standard_num_heads(arch: dict) -> Optional[int]:
    """Head count of the mmpretrain standard ViT with this shape, if any."""
    heads = {
        zoo['num_heads']
        for zoo in VisionTransformer.arch_zoo.values()
        if all(zoo.get(k) == arch[k] for k in _ARCH_KEYS)
    }
    return heads.pop() if len(heads) == 1 else None


def build_encoder(checkpoint: str,
                  source: str = 'student',
                  num_heads: Optional[int] = None,
                  config_arch: Optional[dict] = None) -> VisionTransformer:
    """A frozen mmpretrain ``VisionTransformer`` holding a checkpoint's
    encoder, returning the cls token after the final norm.

    The checkpoint may be an hpm_mm pretraining checkpoint, the authors'
    released file, or ``backbone.*`` mmpretrain ViT weights (format
    detected). The architecture is read off the weights; the attention head
    count, which leaves no trace in them, comes from ``num_heads``, the
    config or mmpretrain's standard ViTs (ViT-B: 12, ViT-L: 16, ...).
    Weights the encoder needs but the file lacks are an error, file keys
    the encoder does not use are logged.

    Args:
        checkpoint (str): Path or URL of the checkpoint.
        source (str): 'student' or 'teacher' (the EMA teacher; hpm_mm and
            released checkpoints only).
        num_heads (int, optional): Attention heads, for a non-standard ViT.
        config_arch (dict, optional): Arch from :func:`arch_from_config`;
            its shape must agree with the weights.

    Returns:
        VisionTransformer: In eval mode, without gradients;
        ``out_type='cls_token'``, ``final_norm=True``.

    Raises:
        CheckpointError: Unreadable or unknown checkpoint, missing encoder
            weights, shapes that disagree with ``config_arch``, or an
            unknown head count.
    """
    conv = extract_encoder(read_checkpoint(checkpoint), source=source)
    arch = infer_vit_arch(conv.state)
    shape = {k: arch[k] for k in _ARCH_KEYS}
    config_arch = config_arch or {}
    differ = [f'{k} {shape[k]} vs config {config_arch[k]}'
              for k in _ARCH_KEYS if config_arch.get(k, shape[k]) != shape[k]]
    if differ:
        raise CheckpointError(f'{checkpoint} does not fit the config\'s '
                              f'arch: {", ".join(differ)}')
    num_heads = num_heads or config_arch.get('num_heads') or \
        standard_num_heads(shape)
    if not num_heads:
        raise CheckpointError(
            f'{checkpoint}: no standard ViT is {shape}; give the number of '
            'attention heads (--num-heads or a config)')
    if shape['embed_dims'] % num_heads:
        raise CheckpointError(f'embed_dims {shape["embed_dims"]} is not '
                              f'divisible by num_heads {num_heads}')
    encoder = VisionTransformer(
        arch=dict(shape, num_heads=num_heads),
        img_size=arch['img_size'],
        patch_size=arch['patch_size'],
        in_channels=arch['in_channels'],
        out_type='cls_token',
        final_norm=True)
    found = load_weights(encoder, conv.state, checkpoint,
                         allow_unexpected=True)
    unused = summarize_keys(found.unexpected + conv.unknown) or 'none'
    print_log(f'encoder from {checkpoint} ({conv.source_format}; '
              f'{"; ".join(conv.notes) or "-"}): {shape}, {num_heads} '
              f'heads, {arch["img_size"][0]} px; unused keys: {unused}',
              logger='current')
    encoder.requires_grad_(False)
    encoder.eval()  # mmpretrain's ViT.train() does not return the module
    return encoder
