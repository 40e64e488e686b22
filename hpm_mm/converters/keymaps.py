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
                     timm='', mmaction='backbone.')

_VIDEO_BLOCK = (('norm1', 'norm1'), ('attn.qkv', 'attn.qkv'),
                ('attn.proj', 'attn.proj'), ('norm2', 'norm2'),
                ('mlp.fc1', 'mlp.layers.0.0'), ('mlp.fc2', 'mlp.layers.1'))


def _video_stack(ref: str, ours: str) -> List[Tuple[str, str]]:
    return [(f'{ref}.{{i}}.{a}.{{p}}', f'{ours}.{{i}}.{b}.{{p}}')
            for a, b in _VIDEO_BLOCK] + [
                (f'{ref}.{{i}}.attn.{b}', f'{ours}.{{i}}.attn.{b}')
                for b in ('q_bias', 'v_bias')]


#: The reference VideoMAE's released names (its file's ``'model'``) <->
#: :class:`VideoMAE` / :class:`VideoHPM` student names (mmaction's ViT
#: under ``backbone.``, :class:`VideoMAEDecoder` under ``neck.``). The
#: reference stores no position tables; ours are buffers.
VIDEOMAE = KeyMap([
    ('encoder.patch_embed.proj.{p}', 'backbone.patch_embed.projection.{p}'),
    *_video_stack('encoder.blocks', 'backbone.blocks'),
    ('encoder.norm.{p}', 'backbone.norm.{p}'),
    ('encoder_to_decoder.{p}', 'neck.encoder_to_decoder.{p}'),
    ('mask_token', 'neck.mask_token'),
    *_video_stack('decoder.blocks', 'neck.blocks'),
    ('decoder.norm.{p}', 'neck.norm.{p}'),
    ('decoder.head.{p}', 'neck.head.{p}')])
#: The formats of video checkpoints (:func:`detect_format`).
VIDEO_FORMATS = ('videomae', 'video', 'mmaction')


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
    elif fmt == 'videomae':
        student, unknown = VIDEOMAE.rename(main)
    elif fmt in ('hpm', 'video'):
        student = {k: v for k, v in main.items()
                   if k.startswith(('backbone.', 'neck.'))}
        teacher = take_prefix(main, 'teacher.module.') or None
        unknown = [k for k in main if not k.startswith(
            ('backbone.', 'neck.', 'teacher.'))]
    else:
        student = main if fmt in ('mmpretrain', 'mmdet', 'mmaction') else {
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
    patch = state.get('patch_embed.projection.weight')
    if (target == 'mmaction') != (getattr(patch, 'ndim', 4) == 5):
        raise CheckpointError(  # a video encoder has Conv3d tubelets
            f'--to {target} takes ' + ('a video' if target == 'mmaction'
                                       else 'an image') +
            f' encoder, got the {conv.source_format!r} format')
    if target == 'mmaction':
        state, dropped = video_encoder_for_mmaction(state, conv.notes)
    elif pos is not None and pos.ndim == 4:  # ViTDet weights
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
    if fmt == 'videomae':
        return reference_to_video(nets['student'], unknown, source)
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


def hpm_to_released(obj: Any) -> Tuple[Conversion, Optional[StateDict]]:
    """An :class:`HPM` checkpoint in the authors' layout, the inverse of
    :func:`released_to_hpm`: the student (``state_dict``) and the teacher
    (``ema_state_dict``) in timm/MAE names; ``teacher.steps`` is dropped.
    A :class:`VideoMAE` / :class:`VideoHPM` checkpoint: its student in the
    reference VideoMAE's names (:data:`VIDEOMAE`) and no teacher (None).
    """
    fmt, nets, unknown = networks(obj)
    if fmt == 'video':  # the reference VideoMAE's file: no teacher
        state, bad = VIDEOMAE.rename(nets['student'], to_left=True)
        return Conversion(state, fmt, unknown + bad, [
            'the student in the reference VideoMAE layout (under '
            "'model'); position tables, loss predictor and teacher left "
            'out']), None
    if fmt != 'hpm':
        raise CheckpointError(f'expected an hpm_mm pretraining checkpoint '
                              f'(backbone.*, neck.*), got format {fmt!r}')
    student, bad = STUDENT.rename(nets['student'], to_left=True)
    teacher = STUDENT.rename(_teacher(nets, fmt), to_left=True)[0]
    if bad:
        raise CheckpointError('no released name for: ' + summarize_keys(bad))
    return Conversion(student, fmt, unknown), teacher


def video_tokens(arch: dict) -> int:
    """Tokens N of a video encoder's clip (:func:`infer_video_arch`)."""
    return arch['num_frames'] // arch['tubelet_size'] * (
        arch['img_size'] // arch['patch_size'])**2


def _sincos(tokens: int, dims: int) -> torch.Tensor:
    """The fixed 1-D sin-cos position table (1, tokens, dims) of mmaction's
    VideoMAE ViT (the reference's)."""
    from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
    return get_sinusoid_encoding(tokens, dims)


def video_encoder_for_mmaction(enc: StateDict,
                               notes: List[str]) -> Tuple[StateDict, list]:
    """A VideoMAE encoder (bare mmaction names) as mmaction2's
    ``VisionTransformer(use_mean_pooling=True)`` starts fine-tuning, as the
    reference's fine-tuning does: the final ``norm`` dropped, ``fc_norm``
    at LayerNorm (1, 0), the position table (made if the file has none).

    Returns:
        tuple: The state dict and the keys dropped; ``notes`` says what
        was decided.
    """
    arch = infer_video_arch(enc)
    dims = arch['embed_dims']
    dropped = [k for k in enc if k.startswith('norm.')]
    state = {k: v for k, v in enc.items() if k not in dropped}
    if 'fc_norm.weight' not in state:
        state['fc_norm.weight'] = torch.ones(dims)
        state['fc_norm.bias'] = torch.zeros(dims)
        notes.append('final norm dropped, fc_norm at LayerNorm(1, 0) (the '
                     "reference's fine-tuning)")
    if 'pos_embed' not in state:
        state['pos_embed'] = _sincos(video_tokens(arch), dims)
        notes.append(f'pos_embed: the sin-cos table of {arch["num_frames"]} '
                     f'frames at {arch["img_size"]} px')
    return state, dropped


def reference_to_video(student: StateDict, unknown: List[str],
                       source: str = 'student') -> Conversion:
    """The reference VideoMAE's file (renamed by :data:`VIDEOMAE`) as a
    :class:`VideoMAE` state dict: its weights plus the encoder's position
    table (mmaction's buffer), which it does not store (16 frames at 224
    px, the reference's models)."""
    if source != 'student':
        raise CheckpointError("the reference VideoMAE file has no teacher: "
                              f"source must be 'student', got {source!r}")
    arch = infer_video_arch(take_prefix(student, 'backbone.'))
    state = dict(student)
    state['backbone.pos_embed'] = _sincos(video_tokens(arch),
                                          arch['embed_dims'])
    return Conversion(state, 'videomae', unknown, [
        f'position table of {arch["num_frames"]} frames at '
        f'{arch["img_size"]} px added (the reference stores none)'])


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


def infer_video_arch(enc: StateDict) -> dict:
    """Architecture of a VideoMAE encoder in bare mmaction names:
    ``embed_dims``, ``depth``, ``mlp_ratio``, ``patch_size``,
    ``tubelet_size``, ``in_channels``, ``img_size`` and ``num_frames``.

    Only the number of tokens N of ``pos_embed`` is stored, not how it
    splits into time steps and a square grid: 16 frames are taken when they
    fit N (the reference's clips), else the largest grid that does (the
    weights' shapes are the same). Without ``pos_embed`` (the reference's
    file), 16 frames at 224 px.
    """
    weight = _need(enc, 'patch_embed.projection.weight', 'patch embedding')
    if weight.ndim != 5:
        raise CheckpointError(
            f'not a video encoder: patch_embed.projection.weight is '
            f'{tuple(weight.shape)}, not (C, in, t, p, p)')
    dims, chans, tubelet, patch, _ = (int(n) for n in weight.shape)
    fc1 = _need(enc, 'blocks.0.mlp.layers.0.0.weight', 'MLP width')
    pos = enc.get('pos_embed')
    steps = 16 // tubelet
    grid = 224 // patch
    if pos is not None:
        tokens = int(pos.shape[1])
        side = math.isqrt(tokens // steps)
        if side * side * steps != tokens:
            side = next(g for g in range(math.isqrt(tokens), 0, -1)
                        if tokens % (g * g) == 0)
            steps = tokens // (side * side)
        grid = side
    return dict(embed_dims=dims, depth=_depth(enc, 'blocks.'),
                mlp_ratio=fc1.shape[0] / dims, patch_size=patch,
                tubelet_size=tubelet, in_channels=chans,
                img_size=grid * patch, num_frames=steps * tubelet)


def _video_reference(target: str, state: StateDict) -> Shapes:
    """:func:`reference` for a video checkpoint: mmaction2's
    ``VisionTransformer(use_mean_pooling=True)`` ('mmaction') or the
    encoder and decoder of :class:`VideoMAE` ('hpm')."""
    import hpm_mm.video  # noqa: F401  (one-line error without mmaction)
    from mmaction.models.backbones.vit_mae import VisionTransformer
    from mmpretrain.registry import MODELS
    enc = take_prefix(state, 'backbone.') or state
    a = infer_video_arch(enc)
    vit = dict(img_size=a['img_size'], patch_size=a['patch_size'],
               in_channels=a['in_channels'], embed_dims=a['embed_dims'],
               depth=a['depth'], num_heads=1, mlp_ratio=a['mlp_ratio'],
               num_frames=a['num_frames'], tubelet_size=a['tubelet_size'])
    if target == 'mmaction':  # builds on the CPU: it calls .item()
        return _shapes(VisionTransformer(use_mean_pooling=True, **vit))
    dims = _need(state, 'neck.encoder_to_decoder.weight', 'decoder').shape[0]
    fc1 = _need(state, 'neck.blocks.0.mlp.layers.0.0.weight',
                'decoder MLP width')
    backbone = MODELS.build(dict(vit, type='VideoMAEViT'))
    neck = MODELS.build(dict(
        type='VideoMAEDecoder', num_patches=video_tokens(a),
        embed_dim=a['embed_dims'], decoder_embed_dim=int(dims),
        decoder_depth=_depth(state, 'neck.blocks.'), decoder_num_heads=1,
        mlp_ratio=fc1.shape[0] / dims, patch_size=a['patch_size'],
        tubelet_size=a['tubelet_size'], in_chans=a['in_channels']))
    return {f'{name}.{k}': v for name, net in (('backbone', backbone),
                                              ('neck', neck))
            for k, v in _shapes(net).items()}


def _shapes(model: torch.nn.Module) -> Shapes:
    return {k: v.shape for k, v in model.state_dict().items()}


def reference(target: str, state: StateDict) -> Shapes:
    """Shapes of the model the ``target`` file ``state`` is for, in its
    names: ``VisionTransformer`` with a final norm (mmpretrain),
    :class:`ViTDet` with relative positions (mmdet), ``MAE`` as in the seg
    configs (mmseg), timm's ``VisionTransformer`` without head (built as
    mmpretrain's: the same parameters), :class:`HPM` (hpm, released),
    CLIP's visual tower (clip-target); for video, mmaction2's
    ``VisionTransformer`` with mean pooling (mmaction) or the encoder and
    decoder of :class:`VideoMAE` (hpm, released).

    Raises:
        ImportError: In one line, without the target's library.
    """
    video = target in ('hpm', 'released') and \
        detect_format(state) in VIDEO_FORMATS
    if target == 'mmaction' or (target == 'hpm' and video):
        return _video_reference(target, state)
    if target in ('timm', 'released'):  # the same model in timm names
        keymap = VIDEOMAE if video else ENCODER if target == 'timm' \
            else STUDENT
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
