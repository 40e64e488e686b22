"""Convert HPM checkpoints between the released, hpm_mm and downstream formats.

Examples::

    # authors' released checkpoint -> hpm_mm pretraining checkpoint
    python tools/convert_checkpoint.py hpm_vitb_800e.pth \\
        checkpoints/hpm_vit-b_800e.pth --to hpm

    # hpm_mm (or released) checkpoint -> backbone weights per library
    python tools/convert_checkpoint.py checkpoints/hpm_vit-b_800e.pth \\
        checkpoints/hpm_vit-b_800e_mmdet.pth --to mmdet --source teacher
"""
import argparse
import os.path as osp
import sys
from typing import Any, List, Optional

import hpm_mm  # noqa: F401  (allow-lists mmengine checkpoint types)
from hpm_mm.converters import (TARGET_PREFIX, CheckpointError,
                               convert_encoder, load_checkpoint,
                               released_to_hpm, save_checkpoint,
                               summarize_keys)
from hpm_mm.converters.validate import (compare, encoder_reference,
                                        hpm_reference)

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
  mmpretrain  'backbone.*' VisionTransformer weights (classification)
  mmdet       'backbone.*' ViTDet weights (no cls token / final norm;
              14x14 position grid, interpolated by ViTDet)
  mmseg       bare mmseg MAE weights (mmseg's MAE ignores prefixes)

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
        choices=['hpm', 'mmpretrain', 'mmdet', 'mmseg'],
        help='output format')
    parser.add_argument(
        '--source',
        default='student',
        choices=['student', 'teacher'],
        help='which network to take (default: student)')
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
    obj = load_checkpoint(args.src)
    if args.to == 'hpm':
        if args.prefix:
            raise CheckpointError('--prefix does not apply to --to hpm')
        conv = released_to_hpm(obj, args.source)
        missing, unexpected = compare(conv.state, hpm_reference(conv.state))
        state = conv.state
    else:
        conv = convert_encoder(obj, args.to, args.source, args.prefix)
        missing, unexpected = compare(
            conv.state,
            encoder_reference(args.to, conv.state),
            resizable=('pos_embed', ))
        prefix = TARGET_PREFIX[args.to]
        state = {prefix + k: v for k, v in conv.state.items()}

    print(f'input: {args.src} (format {conv.source_format}; '
          f'{"; ".join(conv.notes) or "-"})')
    _print('input keys not converted', conv.unknown)
    _print(f'missing for the {args.to} model (left at init)', missing)
    _print(f'unexpected for the {args.to} model (ignored)', unexpected)
    if args.to == 'hpm' and (missing or unexpected):
        raise CheckpointError('the result would not load into HPM with '
                              'strict=True: ' +
                              summarize_keys(missing + unexpected))
    save_checkpoint(
        dict(state_dict=state, meta=_meta(args, obj, conv.source_format)),
        args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


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
