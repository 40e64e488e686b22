"""Convert HPM checkpoints between the released, hpm_mm and downstream formats.

Examples::

    # authors' released checkpoint -> hpm_mm pretraining checkpoint
    python tools/convert_checkpoint.py hpm_vitb_800e.pth \\
        checkpoints/hpm_vit-b_800e.pth --to hpm

    # hpm_mm (or released) checkpoint -> backbone weights per library
    python tools/convert_checkpoint.py checkpoints/hpm_vit-b_800e.pth \\
        checkpoints/hpm_vit-b_800e_mmdet.pth --to mmdet --source teacher

    # OpenAI CLIP (TorchScript) -> the CLIP feature target's weights
    python tools/convert_checkpoint.py ViT-B-16.pt \\
        checkpoints/clip_vit-base-p16.pth --to clip-target
    # -> a timm ViT encoder, and back to the authors' layout
    python tools/convert_checkpoint.py checkpoints/hpm_vit-b_800e.pth \\
        checkpoints/hpm_vit-b_800e_timm.pth --to timm
    python tools/convert_checkpoint.py checkpoints/hpm_vit-b_800e.pth \\
        hpm_vitb_800e_released.pth --to released
"""
import argparse
import os.path as osp
import sys
from typing import Any, List, Optional

from hpm_mm.converters import (TARGET_PREFIX, CheckpointError, check_fit,
                               compare_state_dicts, convert_encoder,
                               hpm_to_released, read_checkpoint,
                               released_to_hpm, save_checkpoint,
                               split_checkpoint, summarize_keys)
from hpm_mm.converters.clip import clip_reference, clip_visual, \
    infer_clip_arch
from hpm_mm.converters.validate import encoder_reference, hpm_reference

DESCRIPTION = """\
Convert an HPM checkpoint. The input format is detected:

  released    the authors' file: timm/MAE names, student in 'state_dict',
              teacher in 'ema_state_dict', keys maybe prefixed 'module.'
  hpm         an hpm_mm pretraining checkpoint (backbone.*, neck.*,
              teacher.module.*), e.g. work_dirs/.../epoch_800.pth
  mmpretrain  'backbone.*' ViT weights (output of --to mmpretrain)

Targets (--to):

  hpm         full HPM state dict (from 'released' only), loadable into
              hpm_mm's HPM with strict=True. --source student: student =
              state_dict, teacher = ema_state_dict (a copy of the student
              if the file has none); --source teacher: both = ema_state_dict
  released    (from 'hpm' only) the authors' layout, the exact inverse of
              --to hpm: student -> 'state_dict', teacher ->
              'ema_state_dict', timm/MAE names; loads into their code
  mmpretrain  'backbone.*' VisionTransformer weights (classification)
  mmdet       'backbone.*' ViTDet weights (no cls token / final norm;
              14x14 position grid, interpolated by ViTDet)
  mmseg       bare mmseg MAE weights (mmseg's MAE ignores prefixes)
  clip-target the visual tower of an OpenAI CLIP checkpoint (OpenAI's
              TorchScript ViT-B-16.pt, read with torch.jit.load, or a plain
              state dict) for CLIPFeatureTarget; the arch is printed.
              DINO's released ViT weights need no conversion
              (DINOFeatureTarget reads timm names)
  timm        the ViT encoder in timm names, no head: loads with
              timm.create_model('vit_base_patch16_224', pretrained=True,
              pretrained_cfg_overlay=dict(file=DST), num_classes=0)
              (vit_large_patch16_224 for ViT-L); missing keys are an error

--source picks the student or the EMA teacher encoder. The converted
weights are checked against the target model built from the inferred
architecture: shape mismatches are errors; missing keys (left at their
initialisation, e.g. relative position tables) and unexpected keys (ignored
when loading) are always printed. The output is written to a temporary
name and renamed, so it is never half-written. Files are read with
torch.load(weights_only=True).
"""


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='input checkpoint (path or URL)')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--to',
        required=True,
        choices=['hpm', 'released', 'mmpretrain', 'mmdet', 'mmseg', 'timm',
                 'clip-target'],
        help='output format')
    parser.add_argument(
        '--source',
        choices=['student', 'teacher'],
        help='which network to take (default: student; --to released '
        'always writes both)')
    parser.add_argument(
        '--prefix',
        help='for downstream targets: take the encoder from the keys under '
        'this prefix instead of detecting the layout')
    return parser.parse_args(argv)


def _print(label: str, keys: List[str]) -> None:
    print(f'{label}: {summarize_keys(keys) or "none"}')


def _meta(args: argparse.Namespace, obj: Any, fmt: str) -> dict:
    meta = dict(
        converted_from=osp.basename(args.src),
        source_format=fmt,
        source=args.source,
        target=args.to)
    epoch = obj.get('epoch') if isinstance(obj, dict) else None
    if isinstance(epoch, int):
        meta['epoch'] = epoch
    return dict(hpm_mm_converter=meta)


def convert(args: argparse.Namespace) -> None:
    """Run one conversion.

    Raises :class:`CheckpointError` on bad input and ``ImportError`` when
    the target's library (mmdet, mmseg) is not installed.
    """
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise CheckpointError('output path is the input path')
    if args.to == 'clip-target':
        convert_clip(args)
        return
    if args.to in ('hpm', 'released') and args.prefix:
        raise CheckpointError(f'--prefix does not apply to --to {args.to}')
    if args.to == 'released' and args.source:
        raise CheckpointError('--source does not apply to --to released '
                              '(it writes the student and the teacher)')
    args.source = args.source or 'student'
    obj = read_checkpoint(args.src)
    if args.to == 'released':
        _to_released(args, obj)
        return
    if args.to == 'hpm':
        conv = released_to_hpm(obj, args.source)
        reference, prefix, resizable = hpm_reference(conv.state), '', ()
    else:
        conv = convert_encoder(obj, args.to, args.source, args.prefix)
        reference = encoder_reference(args.to, conv.state)
        prefix, resizable = TARGET_PREFIX[args.to], ('pos_embed', )
    check_fit(reference, conv.state, f'shape mismatch with the {args.to} '
              'model', allow_missing=('*', ), allow_unexpected=True,
              resizable=resizable)
    found = compare_state_dicts(reference, conv.state)
    print(f'input: {args.src} (format {conv.source_format}; '
          f'{"; ".join(conv.notes) or "-"})')
    _print('input keys not converted', conv.unknown)
    _print(f'missing for the {args.to} model (left at init)', found.missing)
    _print(f'unexpected for the {args.to} model (ignored)', found.unexpected)
    if args.to in STRICT:
        check_fit(reference, conv.state, 'the result would not load into '
                  f'{STRICT[args.to]} with strict=True')
    state = {prefix + k: v for k, v in conv.state.items()}
    save_checkpoint(
        dict(state_dict=state, meta=_meta(args, obj, conv.source_format)),
        args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


def convert_clip(args: argparse.Namespace) -> None:
    """OpenAI CLIP -> visual tower; raises :class:`CheckpointError`."""
    if args.prefix or args.source:
        raise CheckpointError('--prefix and --source do not apply to '
                              '--to clip-target')
    conv = clip_visual(args.src)
    print(f'input: {args.src} (format {conv.source_format}; '
          f'{"; ".join(conv.notes) or "-"})')
    check_fit(clip_reference(conv.state), conv.state,
              "the visual tower does not fit CLIP's")
    save_checkpoint(
        dict(state_dict=conv.state,
             meta=_meta(args, {}, conv.source_format)), args.dst)
    print(f'CLIPFeatureTarget arch: {infer_clip_arch(conv.state)}')
    print(f'wrote {len(conv.state)} tensors to {args.dst}')


#: Targets whose file must hold every key of the model that loads it.
STRICT = dict(hpm="hpm_mm's HPM", timm="timm's VisionTransformer")


def _to_released(args: argparse.Namespace, obj: Any) -> None:
    """hpm -> the authors' ``state_dict`` + ``ema_state_dict``."""
    student, teacher = hpm_to_released(obj)
    state, _ = split_checkpoint(obj)
    check_fit(hpm_reference(state), state, 'not a complete HPM checkpoint')
    print(f'input: {args.src} (format {student.source_format}; '
          f'{"; ".join(student.notes)})')
    _print('input keys not converted', student.unknown)
    meta = _meta(args, obj, student.source_format)
    meta['hpm_mm_converter'].pop('source')
    save_checkpoint(
        dict(
            state_dict=student.state,
            ema_state_dict=teacher.state,
            meta=meta), args.dst)
    print(f'wrote {len(student.state)} + {len(teacher.state)} tensors '
          f'(state_dict + ema_state_dict) to {args.dst}')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        convert(args)
    except (CheckpointError, ImportError) as err:
        print(f'convert_checkpoint: error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
