"""Weighted kNN accuracy of a frozen HPM encoder (DINO protocol).

Examples::

    # hpm_mm or released checkpoint (ViT-B/L heads from the weights' shape)
    python tools/knn_eval.py checkpoints/hpm_vit-b_800e.pth \\
        --data-root data/imagenet --source teacher --out knn.json
    # a config gives the architecture (needed for non-standard ViTs)
    python tools/knn_eval.py configs/pretrain/hpm_vit-b.py \\
        --checkpoint work_dirs/hpm_vit-b/epoch_800.pth \\
        --data-root data/imagenet
    # 8 GPUs: each encodes 1/8 of the images, rank 0 classifies
    python -m torch.distributed.run --nproc_per_node 8 tools/knn_eval.py \\
        checkpoints/hpm_vit-b_800e.pth --data-root data/imagenet \\
        --launcher pytorch
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmengine.dist import get_dist_info, init_dist
from mmengine.logging import print_log

import hpm_mm  # noqa: F401  (registers the HPM modules)
from hpm_mm.converters import CheckpointError
from hpm_mm.engine import close_distributed
from hpm_mm.fileio import write_text
from hpm_mm.evaluation import (DEFAULT_KS, DEFAULT_TEMPERATURE,
                               arch_from_config, build_encoder, build_split,
                               extract_features, knn_classify, labels_of)
from hpm_mm.cli import init_cpu_distributed
from hpm_mm.cli.args import add_launcher_args, parse_common_args

DESCRIPTION = """\
Weighted k-nearest-neighbour classification with the frozen encoder of an
HPM checkpoint (the protocol of DINO and of the HPM authors' main_knn.py):
L2-normalised cls-token features (after the final norm) of the train and
val images, cosine similarity, each of the k nearest train images votes
for its class with weight exp(similarity / T), T = 0.07. Prints top-1 and
top-5 accuracy (%) for every k and writes them as JSON with --out.

The first argument is a checkpoint (hpm_mm pretraining, the authors'
released file, or backbone.* mmpretrain ViT weights; format detected), or
a config whose model.backbone.arch gives the architecture, with the
checkpoint in --checkpoint. Images: DATA_ROOT/{train,val}/ with
DATA_ROOT/meta/{train,val}.txt (mmpretrain's ImageNet layout); resize the
short side to img_size / 0.875 (bicubic), center crop img_size.
"""


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
    for name in ('img_size', 'batch_size', 'query_chunk', 'key_chunk'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be positive')
    if min(args.ks) < 1:
        parser.error(f'--ks must be positive, got {args.ks}')
    if args.temperature <= 0:
        parser.error(f'--temperature must be positive, got {args.temperature}')
    args.config = None
    if args.config_or_checkpoint.endswith('.py'):
        if not args.checkpoint:
            parser.error('a config needs --checkpoint')
        args.config = args.config_or_checkpoint
    elif args.checkpoint:
        parser.error('--checkpoint only follows a config')
    else:
        args.checkpoint = args.config_or_checkpoint
    return args


def format_table(results: dict) -> str:
    """The results as a plain-text table."""
    lines = [f'{"k":>5}  {"top-1":>7}  {"top-5":>7}']
    for k, acc in results.items():
        lines.append(f'{k:>5}  {acc["top1"]:7.2f}  {acc["top5"]:7.2f}')
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> Optional[dict]:
    """Extract, gather and classify; the results on rank 0, else None."""
    if args.config is not None and not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    if args.launcher != 'none' and not init_cpu_distributed(args.launcher):
        init_dist(args.launcher,
                  backend='nccl' if torch.cuda.is_available() else 'gloo')
    rank, _ = get_dist_info()
    device = torch.device(f'cuda:{torch.cuda.current_device()}'
                          if torch.cuda.is_available() else 'cpu')
    arch = arch_from_config(args.config) if args.config else None
    encoder = build_encoder(args.checkpoint, args.source, args.num_heads,
                            arch).to(device)
    splits = {s: build_split(args.data_root, s, args.img_size)
              for s in ('train', 'val')}
    feats = {}
    for split, dataset in splits.items():
        print_log(f'{split}: encoding {len(dataset)} images',
                  logger='current')
        feats[split] = extract_features(encoder, dataset, args.batch_size,
                                        args.num_workers, device)
    if rank != 0:
        return None
    print_log('kNN classification', logger='current')
    acc = knn_classify(
        feats['train'], labels_of(splits['train']), feats['val'],
        labels_of(splits['val']), args.ks, args.temperature,
        query_chunk=args.query_chunk, key_chunk=args.key_chunk,
        progress=True)
    return dict(
        checkpoint=args.checkpoint,
        config=args.config,
        source=args.source,
        data_root=args.data_root,
        num_train=len(splits['train']),
        num_val=len(splits['val']),
        img_size=args.img_size,
        temperature=args.temperature,
        results={str(k): v for k, v in acc.items()})


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        out = run(args)
    except (CheckpointError, FileNotFoundError, ValueError) as err:
        print(f'knn_eval: error: {err}', file=sys.stderr)
        return 1
    close_distributed()  # the other ranks wait for rank 0's classification
    if out is None:
        return 0
    print(format_table(out['results']))
    if args.out:
        write_text(args.out, json.dumps(out, indent=2))
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
