"""Checkpoints in the released and mmengine formats, and the tools, for
the downstream tests (tiny models and data: hpm_mm.testing)."""
import argparse
import importlib.util
import os
import os.path as osp
from typing import Dict

import numpy as np
import torch
from mmengine.config import Config

from ..conftest import ROOT


def save_hpm_checkpoint(model, path: str) -> str:
    """Save like mmengine's CheckpointHook: ``meta``, ``state_dict``,
    ``message_hub`` (with ``HistoryBuffer`` objects and numpy scalars),
    ``optimizer``."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance(f'hpm_ckpt_{os.urandom(4).hex()}')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('epoch', 800)
    torch.save(
        dict(
            meta=dict(epoch=800, iter=1000, seed=np.int64(0)),
            state_dict={k: v.clone()
                        for k, v in model.state_dict().items()},
            message_hub=hub.state_dict(),
            optimizer=dict(state={}, param_groups=[])), path)
    return path


def _timm_blocks(prefix: str, layers, out: Dict) -> None:
    for i, layer in enumerate(layers):
        parts = {
            'norm1': layer.ln1,
            'attn.qkv': layer.attn.qkv,
            'attn.proj': layer.attn.proj,
            'norm2': layer.ln2,
            'mlp.fc1': layer.ffn.layers[0][0],
            'mlp.fc2': layer.ffn.layers[1],
        }
        for name, mod in parts.items():
            out[f'{prefix}.{i}.{name}.weight'] = mod.weight
            out[f'{prefix}.{i}.{name}.bias'] = mod.bias


def timm_state(backbone, neck) -> Dict[str, torch.Tensor]:
    """The released (timm/MAE) state dict of an encoder + decoder.

    Written from the modules themselves, not from any key map, so the
    converter is tested against an independent naming.
    """
    out = {
        'cls_token': backbone.cls_token,
        'pos_embed': backbone.pos_embed,
        'patch_embed.proj.weight': backbone.patch_embed.projection.weight,
        'patch_embed.proj.bias': backbone.patch_embed.projection.bias,
        'norm.weight': backbone.ln1.weight,
        'norm.bias': backbone.ln1.bias,
        'mask_token': neck.mask_token,
        'decoder_pos_embed': neck.decoder_pos_embed,
        'decoder_embed.weight': neck.decoder_embed.weight,
        'decoder_embed.bias': neck.decoder_embed.bias,
        'decoder_norm.weight': neck.decoder_norm.weight,
        'decoder_norm.bias': neck.decoder_norm.bias,
        'decoder_pred.weight': neck.decoder_pred.weight,
        'decoder_pred.bias': neck.decoder_pred.bias,
        'decoder_norm_losspred.weight': neck.decoder_norm_losspred.weight,
        'decoder_norm_losspred.bias': neck.decoder_norm_losspred.bias,
        'decoder_pred_losspred.weight': neck.decoder_pred_losspred.weight,
        'decoder_pred_losspred.bias': neck.decoder_pred_losspred.bias,
    }
    _timm_blocks('blocks', backbone.layers, out)
    _timm_blocks('decoder_blocks', neck.decoder_blocks, out)
    _timm_blocks('decoder_blocks_losspred', neck.decoder_blocks_losspred,
                 out)
    return {k: v.detach().clone() for k, v in out.items()}


def released_checkpoint(model, with_ema: bool = True,
                        prefix: str = 'module.') -> dict:
    """A checkpoint laid out like the authors' release (`state_dict` and
    `ema_state_dict` of timm names)."""
    ckpt = dict(
        state_dict={
            prefix + k: v
            for k, v in timm_state(model.backbone, model.neck).items()
        },
        optimizer=dict(state={}, param_groups=[]),
        epoch=799,
        model='hpm_vit_tiny_patch16',
        amp_scaler=dict(scale=65536.0, growth_factor=2.0),
        args=argparse.Namespace(mask_ratio=0.75, epochs=800))
    if with_ema:
        t = model.teacher.module
        ckpt['ema_state_dict'] = {
            prefix + k: v
            for k, v in timm_state(t.backbone, t.neck).items()
        }
    return ckpt


def load_tool(name: str = 'convert_checkpoint'):
    """Import ``tools/<name>.py`` as a module."""
    path = osp.join(ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'hpm_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convert(src: str, dst: str, to: str, *extra: str) -> str:
    """Run the converter CLI in-process; assert success."""
    rc = load_tool().main([src, dst, '--to', to, *extra])
    assert rc == 0, f'convert_checkpoint failed for --to {to}'
    return dst


def config(rel_path: str) -> Config:
    """Load a repo config (custom imports processed)."""
    return Config.fromfile(osp.join(ROOT, rel_path))
