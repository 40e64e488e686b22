"""What the video config, run and converter tests share: the tiny VideoMAE
that the ViT-B configs shrink to, and the configs themselves."""
import glob
import os.path as osp

from ..conftest import ROOT

#: A clip of 4 frames of 32 x 32 px in 2 x 16 x 16 tubelets: 2 x 2 x 2 = 8
#: tokens, 3 of the 4 positions of each time step masked at ratio 0.9.
IMG, FRAMES, PATCH, TUBELET = 32, 4, 16, 2
TOKENS = FRAMES // TUBELET * (IMG // PATCH)**2
WIDTH, DEPTH, HEADS = 32, 2, 2

PRETRAIN_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'pretrain', '*_k400-16x4.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'pretrain', '*_ssv2-16x2.py')))
ACTION_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'action', '*.py')))


def tiny_pretrain_model() -> dict:
    """Overrides of a pre-training config's ``model``: the tiny ViT and a
    one-block decoder 16 wide."""
    return dict(
        backbone=dict(img_size=IMG, embed_dims=WIDTH, depth=DEPTH,
                      num_heads=HEADS, num_frames=FRAMES),
        neck=dict(num_patches=TOKENS, embed_dim=WIDTH, decoder_embed_dim=16,
                  decoder_depth=1, decoder_num_heads=2))


def tiny_action_model(num_classes: int = 2) -> dict:
    """Overrides of a fine-tuning config's ``model``: the tiny ViT (no
    checkpoint) and a head for ``num_classes``."""
    return dict(
        backbone=dict(img_size=IMG, embed_dims=WIDTH, depth=DEPTH,
                      num_heads=HEADS, num_frames=FRAMES, init_cfg=None),
        cls_head=dict(num_classes=num_classes, in_channels=WIDTH),
        data_preprocessor=dict(blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0,
                 num_classes=num_classes)])))


def name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]
