"""Weighted kNN accuracy of a frozen HPM encoder (the DINO protocol).

The cls tokens (after the final norm) of the train and val images,
L2-normalised; each of the k nearest train images (cosine similarity)
votes for its class with weight exp(similarity / T). Prints top-1 and
top-5 accuracy (%) for every k; --out writes them as JSON. The first
argument is a checkpoint (hpm_mm, the authors' released file, or
backbone.* mmpretrain ViT weights), or a config whose model.backbone.arch
gives the architecture, with --checkpoint. DATA_ROOT has mmpretrain's
ImageNet layout: {train,val}/ and meta/{train,val}.txt.

Examples::

    python tools/knn_eval.py checkpoints/hpm_vit-b_800e.pth \\
        --data-root data/imagenet --source teacher --out knn.json
    # 8 GPUs: each encodes 1/8 of the images, rank 0 classifies
    python -m torch.distributed.run --nproc_per_node 8 tools/knn_eval.py \\
        configs/pretrain/hpm_vit-b.py --checkpoint CHECKPOINT \\
        --data-root data/imagenet --launcher pytorch
"""
import argparse
import json
from typing import List, Optional

import torch
from mmengine.device import get_device
from mmengine.dist import get_rank, init_dist
from mmengine.logging import print_log

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.cli import init_cpu_distributed, one_line_errors
from hpm_mm.cli.args import add_launcher_args, parse_common_args
from hpm_mm.engine import close_distributed
from hpm_mm.evaluation import (DEFAULT_KS, DEFAULT_TEMPERATURE,
                               arch_from_config, build_encoder, build_split,
                               check_knn_args, extract_features, knn_classify)
from hpm_mm.fileio import write_text


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='An error ends in one line; HPM_MM_DEBUG=1 shows its '
        'traceback.')
    parser.add_argument('config_or_checkpoint',
                        help='checkpoint, or config (.py) with --checkpoint')
    parser.add_argument('--checkpoint', help='checkpoint, after a config')
    parser.add_argument('--data-root', required=True,
                        help='ImageNet-format dataset root')
    parser.add_argument('--source', default='student',
                        choices=['student', 'teacher'],
                        help='student or EMA-teacher encoder')
    parser.add_argument('--num-heads', type=int,
                        help='attention heads (non-standard ViT, no config)')
    parser.add_argument('--img-size', type=int, default=224,
                        help='center-crop size (default 224)')
    parser.add_argument('--ks', type=int, nargs='+', default=DEFAULT_KS,
                        help='neighbour counts (default 10 20 100 200)')
    parser.add_argument('--temperature', type=float,
                        default=DEFAULT_TEMPERATURE)
    parser.add_argument('--batch-size', type=int, default=128,
                        help='images per forward and process')
    parser.add_argument('--num-workers', type=int, default=8)
    parser.add_argument('--query-chunk', type=int, default=512,
                        help='val images classified at once')
    parser.add_argument('--key-chunk', type=int, default=65536,
                        help='train features compared at once')
    parser.add_argument('--out', help='write the results to this JSON file')
    add_launcher_args(parser)
    args = parse_common_args(parser, argv)
    try:  # before hours of encoding
        check_knn_args(args.ks, args.temperature, args.query_chunk,
                       args.key_chunk)
    except ValueError as err:
        parser.error(str(err))
    is_config = args.config_or_checkpoint.endswith('.py')
    if is_config != bool(args.checkpoint):
        parser.error('a config needs --checkpoint, a checkpoint takes none')
    args.config = args.config_or_checkpoint if is_config else None
    args.checkpoint = args.checkpoint or args.config_or_checkpoint
    return args


def run(args: argparse.Namespace) -> Optional[dict]:
    """Extract, gather and classify; the results on rank 0, else None."""
    if args.launcher != 'none' and not init_cpu_distributed(args.launcher):
        init_dist(args.launcher)
    arch = arch_from_config(args.config) if args.config else None
    encoder = build_encoder(args.checkpoint, args.source, args.num_heads,
                            arch).to(get_device())
    feats, labels = {}, {}
    for split in ('train', 'val'):
        dataset = build_split(args.data_root, split, args.img_size)
        print_log(f'{split}: encoding {len(dataset)} images',
                  logger='current')
        feats[split] = extract_features(encoder, dataset, args.batch_size,
                                        args.num_workers)
        labels[split] = torch.as_tensor(dataset.get_gt_labels())
    if get_rank() != 0:
        return None
    acc = knn_classify(
        feats['train'], labels['train'], feats['val'], labels['val'],
        args.ks, args.temperature, args.query_chunk, args.key_chunk,
        progress=True)
    keys = ('checkpoint', 'config', 'source', 'data_root', 'img_size',
            'temperature')
    return dict({k: getattr(args, k) for k in keys},
                num_train=len(labels['train']),
                num_val=len(labels['val']),
                results={str(k): v for k, v in acc.items()})


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with one_line_errors('knn_eval'):
        out = run(args)
    close_distributed()  # the other ranks wait for rank 0's classification
    if out is None:
        return
    print(f'{"k":>5}  {"top-1":>7}  {"top-5":>7}')
    for k, acc in out['results'].items():
        print(f'{k:>5}  {acc["top1"]:7.2f}  {acc["top5"]:7.2f}')
    if args.out:
        write_text(args.out, json.dumps(out, indent=2))
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
