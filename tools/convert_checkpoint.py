"""Convert HPM checkpoints between the released, hpm_mm and library formats
(``--help``; examples and the formats in docs/en/downstream.md)."""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from hpm_mm.converters import (TARGET_PREFIX, CheckpointError, check_fit,
                               clip_visual, convert_encoder, hpm_to_released,
                               read_checkpoint, reference, released_to_hpm,
                               save_checkpoint, summarize_keys)

DESCRIPTION = """\
Convert an HPM checkpoint; its format is detected: released (the authors'
file: timm/MAE names, the teacher in ema_state_dict), hpm (an hpm_mm or MAE
pretraining checkpoint), backbone weights for mmpretrain or mmdet. --source
picks the student or the EMA teacher; --to hpm/released are each other's
inverse. The result is checked against the target model (mmpretrain, mmdet,
mmseg: missing and unexpected keys printed; the others: strict). Files are
read with torch.load(weights_only=True) and written atomically.

Video: a VideoMAE/VideoHPM pretraining checkpoint (ours) or the reference
VideoMAE's file ({'model': ...}, encoder.* names) converts --to mmaction
(mmaction2's VisionTransformer with mean pooling: backbone.*, fc_norm at
LayerNorm(1, 0), the position table); --to hpm turns the reference's file
into ours, --to released ours into the reference's layout.
"""
#: The model each target's file is for.
MODELS = dict(hpm="hpm_mm's HPM", released="the authors' HPM",
              mmpretrain="mmpretrain's VisionTransformer", mmdet='ViTDet',
              mmseg="mmseg's MAE", timm="timm's VisionTransformer",
              mmaction="mmaction2's VisionTransformer (mean pooling)",
              **{'clip-target': "CLIP's visual tower"})


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='input checkpoint (path or URL)')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--to', required=True, choices=list(MODELS))
    parser.add_argument('--source', choices=['student', 'teacher'],
                        help='the network to take (default: student)')
    parser.add_argument('--prefix', help='take the encoder from the keys '
                        'under this prefix instead of detecting the layout')
    return parser.parse_args(argv)


def convert(args: argparse.Namespace) -> None:
    """Run one conversion; raises :class:`CheckpointError` on bad input and
    ``ImportError`` without the target's library (mmdet, mmseg)."""
    src, to, source = args.src, args.to, args.source or 'student'
    if osp.abspath(src) == osp.abspath(args.dst):
        raise CheckpointError('output path is the input path')
    if args.prefix and to not in TARGET_PREFIX:
        raise CheckpointError(f'--prefix does not apply to --to {to}')
    if args.source and to in ('released', 'clip-target'):
        raise CheckpointError(f'--source does not apply to --to {to}')
    obj, out = ({} if to == 'clip-target' else read_checkpoint(src)), {}
    if to == 'clip-target':
        conv = clip_visual(src)
    elif to == 'released':
        conv, ema = hpm_to_released(obj)
        if ema is not None:
            out['ema_state_dict'] = ema
    elif to == 'hpm':
        conv = released_to_hpm(obj, source)
    else:
        conv = convert_encoder(obj, to, source, args.prefix)
    strict = to in ('hpm', 'released', 'timm', 'clip-target', 'mmaction')
    mm = check_fit(reference(to, conv.state), conv.state,
                   f'the result does not fit {MODELS[to]}' +
                   (' (loaded with strict=True)' if strict else ''),
                   () if strict else ('*', ), allow_unexpected=not strict)
    print(f'input: {src} (format {conv.source_format}; '
          f'{"; ".join(conv.notes) or "-"})')
    for what, keys in (
            ('input keys not converted', conv.unknown),
            (f'missing for the {to} model (left at init)', mm.missing),
            (f'unexpected for the {to} model (ignored)', mm.unexpected)):
        print(f'{what}: {summarize_keys(keys) or "none"}')
    # the reference VideoMAE's files keep the weights under 'model'
    key = 'model' if to == 'released' and conv.source_format == 'video' \
        else 'state_dict'
    out[key] = {TARGET_PREFIX.get(to, '') + k: v
                for k, v in conv.state.items()}
    out['meta'] = dict(hpm_mm_converter=dict(
        converted_from=osp.basename(src), source_format=conv.source_format,
        source=args.source, target=to, epoch=obj.get('epoch')))
    save_checkpoint(out, args.dst)
    print(f'wrote {len(conv.state)} tensors to {args.dst}')


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
