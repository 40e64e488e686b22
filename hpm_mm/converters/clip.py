"""OpenAI CLIP checkpoint -> the visual tower read by CLIPFeatureTarget.

OpenAI distributes CLIP as a TorchScript archive (``ViT-B-16.pt``), which
``torch.load(weights_only=True)`` cannot read; its tensors are taken with
``torch.jit.load`` (no Python code is unpickled, nothing is run). Plain
state dicts (the whole CLIP model, as the HPM authors' ``--clip_path`` and
mmpretrain's MILAN use) are read with ``weights_only=True``.
"""
import os.path as osp
import re
import zipfile
from typing import Dict

import torch

from .checkpoint import (CheckpointError, StateDict, read_state_dict,
                         take_prefix)
from .released import Conversion


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('/constants.pkl') for n in zf.namelist())


def clip_visual(path: str) -> Conversion:
    """The visual tower of a CLIP checkpoint, in OpenAI's bare names.

    Args:
        path (str): OpenAI's TorchScript file, or a plain state dict with
            ``visual.*`` keys (whole model) or bare visual keys.

    Returns:
        Conversion: ``state`` with keys ``conv1.weight``, ``proj``, ...;
        ``notes`` says what was left out.

    Raises:
        CheckpointError: Missing file, or no CLIP ViT visual tower.
    """
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    if is_torchscript(path):
        fmt = 'openai-torchscript'
        try:
            state = dict(torch.jit.load(path, map_location='cpu').state_dict())
        except RuntimeError as err:
            raise CheckpointError(f'cannot read TorchScript {path}: '
                                  f'{str(err).splitlines()[0]}') from err
    else:
        fmt = 'clip-state-dict'
        state = read_state_dict(path)
    notes = []
    if any(k.startswith('visual.') for k in state):
        visual = take_prefix(state, 'visual.')
        notes.append(f'{len(state) - len(visual)} non-visual (text tower) '
                     'tensors left out')
    else:
        visual = state
    if 'conv1.weight' not in visual or 'proj' not in visual:
        keys = ', '.join(list(state)[:5])
        raise CheckpointError(
            'not a CLIP ViT checkpoint: no [visual.]conv1.weight and '
            f'[visual.]proj; first keys: {keys}')
    return Conversion(state=visual, source_format=fmt, notes=notes)


def infer_clip_arch(visual: StateDict) -> Dict[str, int]:
    """``CLIPFeatureTarget.arch`` of a visual tower (heads = width / 64)."""
    width, _, patch, _ = visual['conv1.weight'].shape
    pos = visual.get('positional_embedding')
    if pos is None:
        raise CheckpointError('cannot infer the input size: missing key '
                              'positional_embedding')
    grid = round((pos.shape[0] - 1)**0.5)
    pat = re.compile(r'transformer\.resblocks\.(\d+)\.')
    layers = {int(m.group(1)) for m in map(pat.match, visual) if m}
    if not layers:
        raise CheckpointError('cannot infer the depth: no '
                              'transformer.resblocks.N.* key')
    return dict(
        input_resolution=int(grid * patch),
        patch_size=int(patch),
        width=int(width),
        layers=max(layers) + 1,
        heads=max(1, int(width) // 64),
        output_dim=int(visual['proj'].shape[1]))


def clip_reference(visual: StateDict) -> Dict[str, torch.Size]:
    """State-dict shapes of the CLIP visual tower these weights fit."""
    from mmpretrain.models.utils.clip_generator_helper import \
        VisionTransformer
    with torch.device('meta'):
        net = VisionTransformer(**infer_clip_arch(visual))
    return {k: v.shape for k, v in net.state_dict().items()}
