"""The key maps between the formats, and the conversions made of them.

The authors' code (an MAE fork on timm) and hpm_mm's (mmpretrain layers)
differ in names only, never in shapes or layouts. :func:`networks` reads
every layout into HPM names; each target is a key map from there.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .checkpoint import (CheckpointError, StateDict, detect_format,
                         is_torchscript, read_state_dict, split_checkpoint,
                         take_prefix)
from .fit import compare_state_dicts, summarize_keys

_BLOCK = (('norm1', 'ln1'), ('attn.qkv', 'attn.qkv'), ('norm2', 'ln2'),
          ('attn.proj', 'attn.proj'), ('mlp.fc1', 'ffn.layers.0.0'),
          ('mlp.fc2', 'ffn.layers.1'))


def _stack(timm: str, mm: str) -> List[Tuple[str, str]]:
    return [(f'{timm}.{{i}}.{a}.{{p}}', f'{mm}.{{i}}.{b}.{{p}}')
            for a, b in _BLOCK]


#: (released, mmpretrain ViT) name templates of the encoder: ``{i}`` is a
#: block index, ``{p}`` weight or bias.
ENCODER_PAIRS = [('cls_token', 'cls_token'), ('pos_embed', 'pos_embed'),
                 ('patch_embed.proj.{p}', 'patch_embed.projection.{p}'),
                 *_stack('blocks', 'layers'), ('norm.{p}', 'ln1.{p}')]
#: (released, :class:`HPMDecoder`) name templates of the decoder.
DECODER_PAIRS = [(k, k) for k in (
    'mask_token', 'decoder_pos_embed', 'decoder_embed.{p}',
    'decoder_pred.{p}', 'decoder_norm_losspred.{p}',
    'decoder_pred_losspred.{p}')] + [('decoder_norm.{p}', 'ln1.{p}')] + \
    _stack('decoder_blocks', 'decoder_blocks') + \
    _stack('decoder_blocks_losspred', 'decoder_blocks_losspred')


class KeyMap:
    """A bijection between two naming schemes, from (left, right) template
    pairs."""

    def __init__(self, pairs: Sequence[Tuple[str, str]]) -> None:
        def regex(template):  # {i}: a block index, {p}: weight or bias
            pattern = re.escape(template).replace(r'\{i\}', r'(?P<i>\d+)')
            return re.compile(pattern.replace(r'\{p\}', '(?P<p>weight|bias)'))
        self.rules = [(regex(a), b) for a, b in pairs]
        self.inverse = [(regex(b), a) for a, b in pairs]

    def right(self, key: str, to_left: bool = False) -> Optional[str]:
        """Left name -> right name (right -> left ``to_left``), or None if
        no template matches."""
        for regex, template in self.inverse if to_left else self.rules:
            match = regex.fullmatch(key)
            if match:
                return template.format(**match.groupdict())
        return None

    def left(self, key: str) -> Optional[str]:
        """Right name -> left name, or None if no template matches."""
        return self.right(key, to_left=True)

    def rename(self, state: StateDict,
               to_left: bool = False) -> Tuple[StateDict, List[str]]:
        """Every key renamed, and the keys no template maps (left out)."""
        names = {k: self.right(k, to_left) for k in state}
        return ({new: state[k] for k, new in names.items() if new},
                [k for k, new in names.items() if not new])


#: Released encoder names <-> mmpretrain ``VisionTransformer`` names.
ENCODER = KeyMap(ENCODER_PAIRS)
#: Released names <-> :class:`HPM` student names (``backbone.*``,
#: ``neck.*``).
STUDENT = KeyMap([(a, 'backbone.' + b) for a, b in ENCODER_PAIRS] +
                 [(a, 'neck.' + b) for a, b in DECODER_PAIRS])
#: Key prefix of the files written for each downstream target.
TARGET_PREFIX = dict(mmpretrain='backbone.', mmdet='backbone.', mmseg='',
                     timm='')


@dataclass
class Conversion:
    """A converted state dict, the format it came from, the input keys not
    converted, and the decisions worth telling the user."""
    state: StateDict
    source_format: str
    unknown: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def networks(obj: Any, prefix: Optional[str] = None
             ) -> Tuple[str, Dict[str, Optional[StateDict]], List[str]]:
    """The format of a loaded checkpoint; its ``student`` and ``teacher``
    (None if it has none) in HPM names; and its keys of neither. With
    ``prefix``, the ViT encoder under it is the student.

    Raises:
        CheckpointError: Unknown format, or nothing under ``prefix``.
    """
    main, ema = split_checkpoint(obj)
    if prefix:
        main, ema = take_prefix(main, prefix), None
        if not main or detect_format(main) not in ('vit', 'vitdet'):
            raise CheckpointError(f'no ViT encoder under prefix {prefix!r}')
    fmt, unknown, teacher = detect_format(main), [], None
    if fmt == 'released':
        student, unknown = STUDENT.rename(main)
        teacher = ema and STUDENT.rename(ema)[0]
    elif fmt == 'hpm':
        student = {k: v for k, v in main.items()
                   if k.startswith(('backbone.', 'neck.'))}
        teacher = take_prefix(main, 'teacher.module.') or None
        unknown = [k for k in main if not k.startswith(
            ('backbone.', 'neck.', 'teacher.'))]
    else:
        student = main if fmt in ('mmpretrain', 'mmdet') else {
            'backbone.' + k: v for k, v in main.items()}
    return fmt, dict(student=student, teacher=teacher), unknown


def _pick(nets: dict, source: str, fmt: str) -> StateDict:
    if source not in nets:
        raise CheckpointError(
            f"source must be 'student' or 'teacher', got {source!r}")
    if nets[source] is None:
        raise CheckpointError(
            f"source='teacher' needs a teacher (a released file's "
            f"'ema_state_dict', an hpm file's teacher.module.*); the "
            f'{fmt!r} checkpoint has no teacher')
    return nets[source]


def _teacher(nets: dict, fmt: str) -> StateDict:
    """The teacher, which must have the student's keys and shapes."""
    mm = compare_state_dicts(nets['student'], _pick(nets, 'teacher', fmt))
    if any(mm):
        raise CheckpointError(
            'student and teacher (ema_state_dict, teacher.module.*) differ '
            'in: ' + summarize_keys(mm.mis_shaped + mm.missing +
                                    mm.unexpected))
    return nets['teacher']


def extract_encoder(obj: Any,
                    source: str = 'student',
                    prefix: Optional[str] = None) -> Conversion:
    """The ``source`` ('student' or 'teacher') encoder of a loaded
    checkpoint in bare ViT (or ViTDet) names; ``prefix`` as in
    :func:`networks`."""
    fmt, nets, unknown = networks(obj, prefix)
    enc = take_prefix(_pick(nets, source, fmt), 'backbone.')
    notes = [f'encoder from the {source}'] if nets['teacher'] else []
    return Conversion(enc, fmt, unknown, notes)


def convert_encoder(obj: Any,
                    target: str,
                    source: str = 'student',
                    prefix: Optional[str] = None) -> Conversion:
    """:func:`extract_encoder`, renamed for one of :data:`TARGET_PREFIX`
    (bare keys; the ones the target has no use for join ``unknown``)."""
    conv = extract_encoder(obj, source, prefix)
    state, pos, dropped = conv.state, conv.state.get('pos_embed'), []
    if pos is not None and pos.ndim == 4:  # ViTDet weights
        if target != 'mmdet':
            raise CheckpointError(
                f'ViTDet weights (no cls token) cannot be converted to '
                f'{target}; convert the pretraining checkpoint instead')
    elif target == 'timm':
        state, dropped = ENCODER.rename(state, to_left=True)
    elif target == 'mmdet':
        dropped = [k for k in state if k == 'cls_token' or k[:4] == 'ln1.']
        state = {k: v for k, v in state.items() if k not in dropped}
        if pos is not None:
            grid = math.isqrt(pos.shape[1] - 1)
            if grid * grid != pos.shape[1] - 1:
                raise CheckpointError(f'pos_embed {tuple(pos.shape)} is '
                                      'not a square grid plus a cls token')
            state['pos_embed'] = pos[:, 1:].reshape(1, grid, grid, -1)
            conv.notes.append('pos_embed: cls position dropped, patch grid '
                              'kept; ViTDet interpolates it to the input')
    return Conversion(state, conv.source_format, conv.unknown + dropped,
                      conv.notes)


def released_to_hpm(obj: Any, source: str = 'student') -> Conversion:
    """The authors' checkpoint as an :class:`HPM` state dict.

    ``source='student'``: the student is the released ``state_dict``, the
    teacher ``ema_state_dict`` (a copy of the student when the file has
    none), the file to continue pre-training from; ``source='teacher'``:
    both are ``ema_state_dict``. ``teacher.steps`` is 0.
    """
    fmt, nets, unknown = networks(obj)
    if fmt != 'released':
        raise CheckpointError(
            f'expected the released (timm-name) format, got {fmt!r}')
    teacher = _teacher(nets, fmt) if nets['teacher'] else nets['student']
    student = _pick(nets, source, fmt)
    if source == 'teacher':
        note = 'student and teacher from ema_state_dict'
    else:
        note = 'student from state_dict, teacher from ' + (
            'ema_state_dict' if nets['teacher'] else
            'state_dict (no ema_state_dict in the file)')
    state = dict(student, **{f'teacher.module.{k}': v
                             for k, v in teacher.items()})
    state['teacher.steps'] = torch.tensor(0, dtype=torch.long)
    return Conversion(state, fmt, unknown, [note])


def hpm_to_released(obj: Any) -> Tuple[Conversion, StateDict]:
    """An :class:`HPM` checkpoint in the authors' layout, the inverse of
    :func:`released_to_hpm`: the student (``state_dict``) and the teacher
    (``ema_state_dict``) in timm/MAE names; ``teacher.steps`` is dropped.
    """
    fmt, nets, unknown = networks(obj)
    if fmt != 'hpm':
        raise CheckpointError(f'expected an hpm_mm pretraining checkpoint '
                              f'(backbone.*, neck.*), got format {fmt!r}')
    student, bad = STUDENT.rename(nets['student'], to_left=True)
    teacher = STUDENT.rename(_teacher(nets, fmt), to_left=True)[0]
    if bad:
        raise CheckpointError('no released name for: ' + summarize_keys(bad))
    return Conversion(student, fmt, unknown), teacher


def clip_visual(path: str) -> Conversion:
    """The visual tower of an OpenAI CLIP checkpoint, in OpenAI's names.

    OpenAI's TorchScript file (``ViT-B-16.pt``) is read with
    ``torch.jit.load`` (no Python is unpickled); a plain state dict (the
    whole model, with ``visual.*``, or the tower) weights-only.
    """
    if is_torchscript(path):
        fmt = 'openai-torchscript'
        try:
            state = dict(torch.jit.load(path, map_location='cpu').state_dict())
        except RuntimeError as err:
            raise CheckpointError(f'cannot read TorchScript {path}: '
                                  f'{str(err).splitlines()[0]}') from None
    else:
        fmt, state = 'clip-state-dict', read_state_dict(path)
    visual = take_prefix(state, 'visual.') or state
    if 'conv1.weight' not in visual or 'proj' not in visual:
        raise CheckpointError(
            'not a CLIP ViT checkpoint: no [visual.]conv1.weight and '
            f'[visual.]proj; first keys: {", ".join(list(state)[:5])}')
    return Conversion(visual, fmt, [], [
        f'{len(state) - len(visual)} non-visual (text tower) tensors left '
        f'out; CLIPFeatureTarget arch: {infer_clip_arch(visual)}'])


def infer_clip_arch(visual: Dict[str, Any]) -> Dict[str, int]:
    """``CLIPFeatureTarget.arch`` of a visual tower (heads = width / 64)."""
    width, _, patch, _ = visual['conv1.weight'].shape
    pos = visual.get('positional_embedding')
    layers = {int(m[1]) for m in map(re.compile(
        r'transformer\.resblocks\.(\d+)\.').match, visual) if m}
    if pos is None or not layers:
        raise CheckpointError('cannot infer the CLIP arch: no '
                              'positional_embedding or resblocks')
    return dict(
        input_resolution=round((pos.shape[0] - 1)**0.5) * int(patch),
        patch_size=int(patch), width=int(width), layers=max(layers) + 1,
        heads=max(1, int(width) // 64),
        output_dim=int(visual['proj'].shape[1]))
