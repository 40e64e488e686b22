"""The key maps between the formats, the conversions made of them, and the
model a converted file is for.

The authors' code (an MAE fork on timm) and hpm_mm's (mmpretrain layers)
differ in names only, never in shapes or layouts. :func:`networks` reads
every layout into HPM names; each target is a key map from there. The
reference model of a target is built from the weights' architecture (on
the ``meta`` device where the library allows; one attention head, as head
counts change no shape): its state-dict shapes are what the file must fit.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .checkpoint import (CheckpointError, StateDict, compare_state_dicts,
                         detect_format, is_torchscript, read_state_dict,
                         split_checkpoint, summarize_keys, take_prefix)

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


Shapes = Dict[str, torch.Size]


def _need(state: StateDict, key: str, what: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f'cannot infer the {what}: missing key {key}')
    return state[key]


def _depth(state: StateDict, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    found = [int(m[1]) for m in map(pattern.match, state) if m]
    if not found:
        raise CheckpointError(f'cannot infer the depth: no {prefix}N.* key')
    return max(found) + 1


def infer_vit_arch(enc: StateDict) -> dict:
    """Architecture of an encoder in bare ViT (or ViTDet) names:
    ``embed_dims``, ``num_layers``, ``feedforward_channels``,
    ``patch_size``, ``in_channels``, ``grid`` (h, w) and ``img_size`` (grid
    * patch)."""
    dims, chans, patch, _ = _need(enc, 'patch_embed.projection.weight',
                                  'patch embedding').shape
    pos = _need(enc, 'pos_embed', 'position grid')
    side = math.isqrt(pos.shape[1] - 1)
    if pos.ndim != 4 and side * side != pos.shape[1] - 1:
        raise CheckpointError(f'pos_embed {tuple(pos.shape)} is not a '
                              'square grid plus a cls position')
    grid = tuple(pos.shape[1:3]) if pos.ndim == 4 else (side, side)
    ffn = _need(enc, 'layers.0.ffn.layers.0.0.weight', 'MLP width')
    return dict(embed_dims=int(dims), num_layers=_depth(enc, 'layers.'),
                feedforward_channels=int(ffn.shape[0]),
                patch_size=int(patch), in_channels=int(chans), grid=grid,
                img_size=(grid[0] * int(patch), grid[1] * int(patch)))


def _shapes(model: torch.nn.Module) -> Shapes:
    return {k: v.shape for k, v in model.state_dict().items()}


def reference(target: str, state: StateDict) -> Shapes:
    """Shapes of the model the ``target`` file ``state`` is for, in its
    names: ``VisionTransformer`` with a final norm (mmpretrain),
    :class:`ViTDet` with relative positions (mmdet), ``MAE`` as in the seg
    configs (mmseg), timm's ``VisionTransformer`` without head (built as
    mmpretrain's: the same parameters), :class:`HPM` (hpm, released) or
    CLIP's visual tower (clip-target).

    Raises:
        ImportError: In one line, without the target's library.
    """
    if target in ('timm', 'released'):  # the same model in timm names
        keymap = ENCODER if target == 'timm' else STUDENT
        shapes = reference('mmpretrain' if target == 'timm' else 'hpm',
                           keymap.rename(state)[0])
        return {keymap.left(k): v for k, v in shapes.items()
                if keymap.left(k)}
    if target == 'clip-target':
        from mmpretrain.models.utils.clip_generator_helper import \
            VisionTransformer
        with torch.device('meta'):
            return _shapes(VisionTransformer(**infer_clip_arch(state)))
    a = infer_vit_arch(take_prefix(state, 'backbone.') or state)
    vit = dict(img_size=a['img_size'], patch_size=a['patch_size'],
               in_channels=a['in_channels'])
    arch = dict(embed_dims=a['embed_dims'], num_layers=a['num_layers'],
                num_heads=1, feedforward_channels=a['feedforward_channels'])
    if target == 'mmseg':  # mmseg's MAE calls .item() while built: not meta
        import hpm_mm.downstream.seg  # noqa: F401  (one-line error w/o mmseg)
        from mmseg.models.backbones import MAE
        ratio = a['feedforward_channels'] / a['embed_dims']
        return _shapes(MAE(  # an int ratio: Linear sizes are ratio x dims
            embed_dims=a['embed_dims'], num_layers=a['num_layers'],
            num_heads=1, norm_cfg=dict(type='LN', eps=1e-6), init_values=1.,
            mlp_ratio=int(ratio) if ratio.is_integer() else ratio, **vit))
    with torch.device('meta'):
        if target == 'mmpretrain':
            from mmpretrain.models import VisionTransformer
            return _shapes(VisionTransformer(arch, final_norm=True, **vit))
        if target == 'mmdet':
            from hpm_mm.downstream.det import ViTDet
            return _shapes(ViTDet(dict(arch, global_attn_indexes=()),
                                  pretrain_img_size=a['img_size'], **vit))
        from hpm_mm.models import HPM
        dims = _need(state, 'neck.decoder_embed.weight', 'decoder').shape[0]
        fc1 = _need(state, 'neck.decoder_blocks.0.ffn.layers.0.0.weight',
                    'decoder MLP width')
        return _shapes(HPM(
            backbone=dict(type='HPMViT', arch=arch, img_size=a['img_size'],
                          patch_size=a['patch_size'],
                          patch_cfg=dict(in_channels=a['in_channels'])),
            neck=dict(type='HPMDecoder', patch_size=a['patch_size'],
                      in_chans=a['in_channels'], decoder_num_heads=1,
                      num_patches=a['grid'][0] * a['grid'][1],
                      embed_dim=a['embed_dims'], decoder_embed_dim=dims,
                      decoder_depth=_depth(state, 'neck.decoder_blocks.'),
                      mlp_ratio=fc1.shape[0] / dims),
            head=dict(type='HPMHead', patch_size=a['patch_size'],
                      in_channels=a['in_channels'])))
