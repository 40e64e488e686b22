"""Which benchmark configs (ViT-B or ViT-L) fit a pre-training checkpoint."""
import os.path as osp
import zipfile

from mmpretrain.models import VisionTransformer

from ..converters import (CheckpointError, extract_encoder, infer_vit_arch,
                          read_checkpoint)
from .stages import ARCH_NAMES, ARCHS

_SHAPE = ('embed_dims', 'num_layers')


def detect_arch(checkpoint: str, source: str = 'student') -> str:
    """'b' or 'l': the standard ViT the checkpoint's encoder is.

    Only the shapes are read: a file in torch's zip format is memory-mapped,
    so a ViT-L checkpoint costs no more than its pickled structure.

    Args:
        checkpoint (str): hpm_mm pretraining checkpoint, the authors'
            released file, or converted ``backbone.*`` weights.
        source (str): 'student' or 'teacher'.

    Returns:
        str: An entry of :data:`~.stages.ARCHS`.

    Raises:
        CheckpointError: Unreadable checkpoint, or an encoder that is
            neither ViT-B nor ViT-L (the message gives its shape).
    """
    mmap = osp.isfile(checkpoint) and zipfile.is_zipfile(checkpoint)
    enc = extract_encoder(read_checkpoint(checkpoint, mmap=mmap), source)
    shape = infer_vit_arch(enc.state)
    for arch in ARCHS:
        zoo = VisionTransformer.arch_zoo[arch]
        if all(zoo[k] == shape[k] for k in _SHAPE):
            return arch
    known = '; '.join(
        f'{ARCH_NAMES[a]} is {VisionTransformer.arch_zoo[a]["embed_dims"]} '
        f'x {VisionTransformer.arch_zoo[a]["num_layers"]}' for a in ARCHS)
    raise CheckpointError(
        f'{checkpoint}: the {source} encoder is a ViT of width '
        f'{shape["embed_dims"]} and {shape["num_layers"]} blocks, neither '
        f'ViT-B nor ViT-L ({known}), the sizes the benchmark configs are '
        'for; pick the configs with --arch and fit the model with '
        '--cfg-options')
