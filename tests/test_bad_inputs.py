"""Bad inputs, tried as a new user would: one clear line, nothing written.

The table runs every tool on a bad input in a subprocess and checks the exit
code, that stderr ends with ``TOOL: error: MESSAGE`` naming the path (no
traceback, no advice to switch off weights-only loading) and that nothing
but logs was written. The library pieces behind it are tested directly
below the table.
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from hpm_mm.converters import (CheckpointError, check_checkpoint, check_fit,
                               load_weights, read_checkpoint)
from hpm_mm.datasets import read_image
from hpm_mm.cli import (DatasetError, check_checkpoint_paths,
                        check_dataset_paths, find_resume_checkpoint,
                        load_config, setup_train_cfg)

from .conftest import (ROOT, TINY_ARCH, build_tiny_hpm, write_imagenet,
                       write_tiny_config)

DEMO = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-demo_cpu.py')
DET = osp.join(ROOT, 'configs', 'det',
               'hpm_vit-base-p16_mask-rcnn_8xb8-lsj-100e_coco.py')
DINO = osp.join(ROOT, 'configs', 'pretrain', 'hpm_vit-b_dino-target.py')
NOT_A_CHECKPOINT = 'not a PyTorch checkpoint (or truncated): {}'


def _tool(name: str) -> str:
    return osp.join(ROOT, 'tools', name)


@pytest.fixture(scope='module')
def files(tmp_path_factory) -> dict:
    """Bad and good inputs, made once for the table."""
    tmp = tmp_path_factory.mktemp('inputs')
    out = dict(tmp=str(tmp))
    out['garbage'] = str(tmp / 'garbage.pth')
    with open(out['garbage'], 'wb') as f:
        f.write(b'<html>404 Not Found</html>\n' * 20)
    # a checkpoint of the tiny architecture at 2 layers (32 wide, 64 px)
    out['tiny'] = str(tmp / 'tiny_hpm.pth')
    two = build_tiny_hpm(backbone=dict(arch=dict(TINY_ARCH, num_layers=2)))
    torch.save(dict(state_dict=two.state_dict(), meta={}), out['tiny'])
    data = open(out['tiny'], 'rb').read()
    out['truncated'] = str(tmp / 'truncated.pth')
    with open(out['truncated'], 'wb') as f:
        f.write(data[:len(data) // 2])
    out['imagenet'] = write_imagenet(str(tmp / 'imagenet'), per_class=2)
    out['image'] = sorted(
        glob.glob(osp.join(out['imagenet'], 'train', '*', '*.JPEG')))[0]
    # the demo config with a test set, for tools/test.py, and without
    # CheckpointKeysHook, like the downstream configs
    out['demo_test'] = str(tmp / 'demo_test.py')
    with open(out['demo_test'], 'w') as f:
        f.write(f"_base_ = [{DEMO!r}]\ncustom_hooks = []\n"
                'test_dataloader = dict(\n'
                '    batch_size=2, num_workers=0, persistent_workers=False,\n'
                "    sampler=dict(type='DefaultSampler', shuffle=False),\n"
                "    dataset=dict(type='ImageNet', split='train',\n"
                f"                 data_root={out['imagenet']!r},\n"
                "                 pipeline=[dict(type='LoadImageFromFile'),\n"
                "                           dict(type='PackInputs')]))\n"
                "test_evaluator = dict(type='Accuracy')\n"
                'test_cfg = dict()\n')
    out['empty'] = write_imagenet(str(tmp / 'empty'), per_class=1)
    open(osp.join(out['empty'], 'meta', 'train.txt'), 'w').close()
    out['bad_syntax'] = str(tmp / 'bad_syntax.py')
    with open(out['bad_syntax'], 'w') as f:
        f.write(f"_base_ = [{DEMO!r}]\nmodel = dict(\n"
                '    masker=dict(alpha_max=0.3)\n'  # a comma missing
                '    teacher=dict(warmup_epochs=0))\n')
    return out


def _work(f: dict, case: str) -> str:
    return osp.join(f['tmp'], 'work_' + case)


# (id, tool, argv from the files, names the message must hold (formatted
# with the files): the config key, class, argument or file)
CASES = [
    ('train, config file missing', 'train.py',
     lambda f: [osp.join(f['tmp'], 'nope.py'), '--work-dir', _work(f, 'c')],
     ('{tmp}/nope.py', )),
    ('train --resume PATH, not a checkpoint', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'a'), '--resume', f['garbage']],
     ('--resume', NOT_A_CHECKPOINT.format('{garbage}'))),
    ('train, empty annotation list', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'd'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["empty"]}'],
     ('{empty}/meta/train.txt', '0 images')),
    ('train load_from, another architecture', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'e'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                f'load_from={f["tiny"]}'],
     ('{tiny} does not fit HPM: 48 keys missing',
      'depth 2 in the checkpoint vs 4 in the model (backbone.layers)')),
    ('train det config, init_cfg checkpoint not a checkpoint', 'train.py',
     lambda f: [DET, '--work-dir', _work(f, 'f'), '--cfg-options',
                f'model.backbone.init_cfg.checkpoint={f["garbage"]}'],
     ('model.backbone.init_cfg.checkpoint', '{garbage}')),
    ('test, checkpoint missing', 'test.py',
     lambda f: [DEMO, osp.join(f['tmp'], 'nope.pth'), '--work-dir',
                _work(f, 'g0')],
     ('load_from', '{tmp}/nope.pth')),
    ('test, checkpoint not a checkpoint', 'test.py',
     lambda f: [DEMO, f['garbage'], '--work-dir', _work(f, 'g')],
     ('load_from', NOT_A_CHECKPOINT.format('{garbage}'))),
    ('test, checkpoint of another architecture', 'test.py',
     lambda f: [f['demo_test'], f['tiny'], '--work-dir', _work(f, 'h')],
     ('{tiny} does not fit HPM: 48 keys missing',
      'depth 2 in the checkpoint vs 4 in the model (backbone.layers)')),
    ('train feature-target config, target weights not a checkpoint',
     'train.py',
     lambda f: [DINO, '--work-dir', _work(f, 'k'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                f'model.target_generator.checkpoint={f["garbage"]}'],
     ('model.target_generator.checkpoint', '{garbage}')),
    ('train, unknown model key (a typo)', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'm'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.masker.alpha_maxx=0.3'],
     ('HardPatchMasker', 'alpha_maxx')),
    ('train, a type name with a typo', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'type'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.masker.type=HardPatchMaskerr'],
     ('HardPatchMaskerr', 'mmpretrain::model registry')),
    ('train, a word for a number', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'n'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.masker.alpha_max=abc'],
     ('HardPatchMasker', 'alpha_max', "'abc'")),
    ('train, a value out of range', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'range'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.masker.alpha_max=1.5'],
     ('HardPatchMasker', 'alpha_max', '1.5')),
    ('train, a value a library class refuses', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'arch'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.backbone.arch=deit-tinyy'],
     ('HPMViT', 'arch', 'deit-tinyy')),
    ('train, config file with a syntax error', 'train.py',
     lambda f: [f['bad_syntax'], '--work-dir', _work(f, 'o')],
     ('{bad_syntax}:3', )),
    ('train, encoder changed, decoder not', 'train.py',
     lambda f: [DEMO, '--work-dir', _work(f, 'p'), '--cfg-options',
                f'train_dataloader.dataset.data_root={f["imagenet"]}',
                'model.backbone.arch=deit-small'],
     ('neck.embed_dim', '192', 'deit-small', '384')),
    ('test, unknown model key', 'test.py',
     lambda f: [f['demo_test'], f['tiny'], '--work-dir', _work(f, 'q'),
                '--cfg-options', 'model.neck.decoder_depht=2'],
     ('HPMDecoder', 'decoder_depht')),
    ('knn_eval, not a checkpoint', 'knn_eval.py',
     lambda f: [f['garbage'], '--data-root', f['imagenet'], '--out',
                osp.join(f['tmp'], 'knn.json')],
     (NOT_A_CHECKPOINT.format('{garbage}'), )),
    ('convert_checkpoint, not a checkpoint', 'convert_checkpoint.py',
     lambda f: [f['garbage'], osp.join(f['tmp'], 'out.pth'), '--to',
                'mmdet'], (NOT_A_CHECKPOINT.format('{garbage}'), )),
    ('visualize, checkpoint of another architecture',
     'visualize_hard_patches.py',
     lambda f: [DEMO, f['tiny'], f['image'], '--out',
                osp.join(f['tmp'], 'vis.png')],
     ('{tiny}', 'does not fit HPM', '(backbone.layers)',
      'depth 2 in the checkpoint vs 4 in the model',
      'width 32 in the checkpoint vs 192 in the model (backbone)',
      'width 16 in the checkpoint vs 128 in the model (neck)')),
    ('visualize, a checkpoint given as image', 'visualize_hard_patches.py',
     lambda f: [DEMO, f['tiny'], f['image'], f['tiny'], '--out',
                osp.join(f['tmp'], 'vis.png')],
     ('not an image file: {tiny}', )),
]
#: The tools whose one handler says how to see the traceback.
WITH_DEBUG_HINT = ('train.py', 'test.py', 'visualize_hard_patches.py')


def _snapshot(root: str) -> set:
    return {osp.join(d, n) for d, _, names in os.walk(root) for n in names}


def _is_log(path: str) -> bool:
    """Files mmengine writes when a run starts: log, config, scalars and
    the TensorBoard event file (vis_data/events.out.tfevents.*)."""
    name = osp.basename(path)
    return '/work_' in path and (path.endswith(('.log', '.py', '.json'))
                                 or name.startswith('events.out.tfevents.'))


def _run(tool: str, argv: list, cwd: str, **env):
    return subprocess.run(
        [sys.executable, _tool(tool)] + argv,
        env=dict(os.environ, PYTHONPATH=ROOT, **env), capture_output=True,
        text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize('case,tool,argv,names', CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_one_line(files, case, tool, argv, names):
    before = _snapshot(files['tmp'])
    proc = _run(tool, argv(files), files['tmp'])
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines, proc.stdout[-2000:]
    message = lines[-1]
    prog = osp.splitext(tool)[0]
    assert message.startswith(f'{prog}: error: '), proc.stderr[-3000:]
    for name in names:
        assert name.format(**files) in message, message
    if tool in WITH_DEBUG_HINT:
        assert f'{prog}: HPM_MM_DEBUG=1 shows the traceback' in lines
    assert 'Traceback' not in proc.stderr
    assert 'weights_only' not in proc.stderr + proc.stdout
    assert len(message) < 1000
    written = _snapshot(files['tmp']) - before
    assert all(_is_log(p) for p in written), sorted(written)


def test_debug_variable_shows_the_traceback(files):
    proc = _run('train.py', [files['bad_syntax'], '--work-dir',
                             _work(files, 'debug')], files['tmp'],
                HPM_MM_DEBUG='1')
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('SyntaxError')


# ---- the library pieces -------------------------------------------------

def test_config_syntax_error_names_file_and_line(tmp_path):
    base = str(tmp_path / 'base.py')
    with open(base, 'w') as f:
        f.write('model = dict(\n    type="HPM",,\n)\n')
    top = str(tmp_path / 'top.py')
    with open(top, 'w') as f:
        f.write("_base_ = ['./base.py']\n")
    # the file itself: Python's SyntaxError names it and the line
    with pytest.raises(SyntaxError, match=f'^{base}:2: invalid syntax'):
        load_config(base)
    # a _base_ file: mmengine parses it without its name
    with pytest.raises(SyntaxError,
                       match=f'^{top}: line 2 of a _base_ file: invalid'):
        load_config(top)


def _bad_files(tmp_path) -> dict:
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': {'w': torch.zeros(3)}}, good)
    data = open(good, 'rb').read()
    out = {}
    for name, content in [('garbage', b'\x00\x01 not torch ' * 50),
                          ('empty', b''), ('truncated', data[:-40]),
                          ('head_only', data[:100])]:
        out[name] = str(tmp_path / f'{name}.pth')
        with open(out[name], 'wb') as f:
            f.write(content)
    return out


@pytest.mark.parametrize('mmap', [False, True])
def test_read_checkpoint_names_an_unreadable_file(tmp_path, mmap):
    for name, path in _bad_files(tmp_path).items():
        reader = check_checkpoint if mmap else read_checkpoint
        with pytest.raises(CheckpointError) as err:
            reader(path)
        assert str(err.value) == NOT_A_CHECKPOINT.format(path), name


def test_read_checkpoint_refuses_code_without_advice(tmp_path):
    path = str(tmp_path / 'pickled_object.pth')
    torch.save({'state_dict': {}, 'obj': _Foreign()}, path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    msg = str(err.value)
    assert msg == (f'checkpoint holds {_Foreign.__module__}._Foreign, which '
                   f'safe (weights-only) loading refuses: {path}')
    assert 'weights_only' not in msg
    not_dict = str(tmp_path / 'tensor.pth')
    torch.save(torch.zeros(2), not_dict)
    with pytest.raises(CheckpointError,
                       match='not a checkpoint .a Tensor, expected a dict.'):
        read_checkpoint(not_dict)
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': {'w': torch.zeros(3)}}, good)
    assert read_checkpoint(good)['state_dict']['w'].shape == (3, )
    check_checkpoint(good)


def test_read_checkpoint_names_a_failed_download(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # the download cache
    url = 'http://127.0.0.1:9/nope.pth'  # the discard port: refused
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(url)
    assert str(err.value).startswith(f'cannot download {url}: ')
    assert '\n' not in str(err.value)


class _Foreign:
    pass


def test_read_checkpoint_installs_its_allow_list(tmp_path, monkeypatch):
    """An mmengine training checkpoint reads without anything allow-listed
    beforehand (e.g. by an import)."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(2.0)
    path = str(tmp_path / 'epoch_1.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)},
                'message_hub': {'log_scalars': {'train/loss': buf}},
                'meta': {'seed': np.int64(3), 'lr': np.array([0.1])}}, path)
    monkeypatch.setattr(torch._weights_only_unpickler,
                        '_marked_safe_globals_set', set())
    ckpt = read_checkpoint(path)
    assert ckpt['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert ckpt['meta']['seed'] == 3


def _vit_state(prefix: str, depth: int, width: int) -> dict:
    state = {f'{prefix}cls_token': torch.empty(1, 1, width),
             f'{prefix}pos_embed': torch.empty(1, 17, width)}
    for i in range(depth):
        state[f'{prefix}layers.{i}.ln1.weight'] = torch.empty(width)
        state[f'{prefix}layers.{i}.ffn.layers.0.0.weight'] = torch.empty(
            4 * width, width)
    return state


def test_mismatch_says_depth_and_width():
    model = _vit_state('backbone.', 12, 768)
    ckpt = _vit_state('backbone.', 4, 32)
    with pytest.raises(CheckpointError) as err:
        check_fit(model, ckpt, 'w.pth does not fit ViT')
    text = str(err.value)
    assert '\n' not in text
    assert text.startswith(
        'w.pth does not fit ViT: 16 keys missing (e.g. '
        'backbone.layers.4.ln1.weight, '
        'backbone.layers.4.ffn.layers.0.0.weight, '
        'backbone.layers.5.ln1.weight, ...), 0 unexpected, '
        '10 with another shape (e.g. backbone.cls_token (1, 1, 32) vs '
        '(1, 1, 768), ')
    assert text.endswith('; likely cause: depth 4 in the checkpoint vs 12 '
                         'in the model (backbone.layers), width 32 in the '
                         'checkpoint vs 768 in the model (backbone)')
    assert check_fit(model, dict(model), 'w.pth') == ([], [], [])
    # unexpected keys, and a checkpoint in another naming scheme
    released = {'patch_embed.proj.weight': torch.empty(32, 3, 8, 8),
                'blocks.0.norm1.weight': torch.empty(32)}
    with pytest.raises(CheckpointError) as err:
        check_fit(model, released, 'w.pth')
    assert '2 unexpected (e.g. patch_embed.proj.weight, ' in str(err.value)
    assert str(err.value).endswith(
        "likely cause: no key in common: the checkpoint is in the "
        "'released' format (tools/convert_checkpoint.py converts it)")


def test_load_weights_is_strict_but_for_the_allowed_keys():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 3))
    init = {k: v.clone() for k, v in net.state_dict().items()}
    state = {'0.weight': torch.ones(2, 2), '0.bias': torch.ones(2),
             'extra': torch.zeros(1)}
    fit = 'w.pth does not fit Sequential: '
    with pytest.raises(CheckpointError) as err:
        load_weights(net, state, 'w.pth', allow_missing=('1.*', ))
    assert str(err.value) == fit + ('0 keys missing, 1 unexpected (e.g. '
                                    'extra), 0 with another shape')
    with pytest.raises(CheckpointError) as err:
        load_weights(net, state, 'w.pth', allow_unexpected=True)
    assert str(err.value).startswith(fit + '2 keys missing (e.g. 1.weight, '
                                     '1.bias), 1 unexpected')
    wide = dict(state, **{'0.weight': torch.zeros(3, 2)})
    with pytest.raises(CheckpointError) as err:
        load_weights(net, wide, 'w.pth', ('1.*', ), allow_unexpected=True)
    assert str(err.value).endswith('1 with another shape (e.g. 0.weight '
                                   '(3, 2) vs (2, 2)); likely cause: width '
                                   '3 in the checkpoint vs 2 in the model (0)')
    assert torch.equal(net[0].weight, init['0.weight'])  # nothing loaded
    found = load_weights(net, state, 'w.pth', ('1.*', ),
                         allow_unexpected=True)
    assert found == (['1.weight', '1.bias'], ['extra'], [])
    assert torch.equal(net[0].weight, state['0.weight'])
    assert torch.equal(net[1].weight, init['1.weight'])  # left at init


def test_load_from_of_another_architecture_is_summarised(tiny_imagenet,
                                                         tmp_path):
    cfg = Config.fromfile(
        write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet))
    cfg = setup_train_cfg(cfg, work_dir=str(tmp_path / 'work'))
    state = MODELS.build(cfg.model).state_dict()
    # same keys, one shape differs: mmengine alone would skip it and train
    cfg.load_from = str(tmp_path / 'other_grid.pth')
    torch.save({'state_dict': dict(state, **{
        'backbone.pos_embed': torch.zeros(1, 5, 32)})}, cfg.load_from)
    with pytest.raises(CheckpointError) as err:
        Runner.from_cfg(cfg).train()
    assert str(err.value).startswith(
        f'{cfg.load_from} does not fit HPM: 0 keys missing, 0 unexpected, '
        '1 with another shape (e.g. backbone.pos_embed (1, 5, 32) vs '
        '(1, 17, 32))')
    # another depth
    cfg.model.backbone.arch.num_layers = 5
    cfg.load_from = str(tmp_path / 'four_layers.pth')
    torch.save({'state_dict': state}, cfg.load_from)
    with pytest.raises(CheckpointError) as err:
        Runner.from_cfg(cfg).train()
    assert str(err.value).startswith(f'{cfg.load_from} does not fit HPM: 24 '
                                     'keys missing (e.g. backbone.layers.4.')
    assert ('likely cause: depth 4 in the checkpoint vs 5 in the model '
            '(backbone.layers)') in str(err.value)
    assert not glob.glob(osp.join(cfg.work_dir, '*.pth'))


def _imagenet_cfg(root: str, **dataset) -> Config:
    cfg = Config.fromfile(DEMO)
    cfg.train_dataloader.dataset.data_root = root
    cfg.train_dataloader.dataset.update(dataset)
    return cfg


def test_empty_or_misplaced_dataset(tmp_path):
    root = write_imagenet(str(tmp_path / 'in'), per_class=1)
    ann = osp.join(root, 'meta', 'train.txt')
    check_dataset_paths(_imagenet_cfg(root))
    with open(ann, 'w') as f:
        f.write('\n  \n')
    with pytest.raises(DatasetError) as err:
        check_dataset_paths(_imagenet_cfg(root))
    assert ann in str(err.value) and '0 images' in str(err.value)
    # listed, but not where data_root + data_prefix put it
    with open(ann, 'w') as f:
        f.write('n00000000/n00000000_0.JPEG 0\n')
    with pytest.raises(DatasetError) as err:
        check_dataset_paths(_imagenet_cfg(root, data_prefix='images'))
    for name in ('train_dataloader.dataset', ann, osp.join(
            root, 'images', 'n00000000/n00000000_0.JPEG')):
        assert name in str(err.value)


def test_downstream_init_checkpoints_are_opened(tmp_path):
    garbage = str(tmp_path / 'encoder.pth')
    with open(garbage, 'wb') as f:
        f.write(b'PK\x03\x04 truncated zip')
    for config in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))):
        cfg = Config.fromfile(config)
        init = [(k, v) for k, v in _init_cfgs(cfg.get('model'), 'model')]
        if not init:
            continue
        for where, node in init:
            node['checkpoint'] = garbage
        with pytest.raises(CheckpointError) as err:
            check_checkpoint_paths(cfg)
        assert str(err.value) == (f'{init[0][0]}.checkpoint: ' +
                                  NOT_A_CHECKPOINT.format(garbage)), config
        check_checkpoint_paths(cfg, init_cfg=False)  # tools/test.py


def _init_cfgs(node, where):
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            yield f'{where}.init_cfg', init
        for key, val in node.items():
            if key != 'init_cfg':
                yield from _init_cfgs(val, f'{where}.{key}')


def test_read_image_names_the_file(files):
    assert read_image(files['image']).shape == (48, 48, 3)
    with pytest.raises(OSError, match=f'^not an image file: {files["tiny"]}$'):
        read_image(files['tiny'])
    with pytest.raises(FileNotFoundError, match='^image not found: nope.png$'):
        read_image('nope.png')


def test_auto_resume_skips_a_truncated_newest_checkpoint(
        tiny_imagenet, tmp_path, capsys):
    work = str(tmp_path / 'work')
    cfg_file = write_tiny_config(str(tmp_path / 'tiny.py'), tiny_imagenet,
                                 max_epochs=2)
    Runner.from_cfg(setup_train_cfg(Config.fromfile(cfg_file),
                                    work_dir=work)).train()
    newest, older = osp.join(work, 'epoch_2.pth'), osp.join(
        work, 'epoch_1.pth')
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == newest
    data = open(newest, 'rb').read()
    with open(newest, 'wb') as f:  # the disk filled up while copying
        f.write(data[:len(data) // 2])
    capsys.readouterr()

    assert find_resume_checkpoint(work) == older
    cfg = setup_train_cfg(Config.fromfile(cfg_file), work_dir=work,
                          resume='auto')
    assert cfg.resume and cfg.load_from == older
    logged = capsys.readouterr()
    assert (f'--resume: {NOT_A_CHECKPOINT.format(newest)}; resuming from '
            f'{older} instead') in logged.out + logged.err
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.train_loop.iter == 4  # resumed after epoch 1, not at 0
    assert read_checkpoint(newest)['meta']['epoch'] == 2  # written anew


def test_find_resume_checkpoint_order(tmp_path):
    work = str(tmp_path)
    assert find_resume_checkpoint(work) is None
    for name in ('iter_1', 'iter_2', 'iter_10', 'best_accuracy_iter_50'):
        torch.save({'state_dict': {}}, osp.join(work, f'{name}.pth'))
    assert find_resume_checkpoint(work) == osp.join(work, 'iter_10.pth')
    with open(osp.join(work, 'iter_10.pth'), 'wb') as f:
        f.write(b'')
    assert find_resume_checkpoint(work) == osp.join(work, 'iter_2.pth')
    # last_checkpoint names the newest, whatever its number
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_1.pth'))
    assert find_resume_checkpoint(work) == osp.join(work, 'iter_1.pth')
    for n in (1, 2):
        with open(osp.join(work, f'iter_{n}.pth'), 'wb') as f:
            f.write(b'PK\x03\x04')
    with pytest.raises(CheckpointError) as err:
        find_resume_checkpoint(work)
    newest = osp.join(work, 'iter_1.pth')
    assert str(err.value) == (f'--resume: no readable checkpoint in {work}; '
                              f'newest: {NOT_A_CHECKPOINT.format(newest)}')


def test_load_from_and_resume_paths_are_opened(files):
    cfg = Config.fromfile(DEMO)
    cfg.load_from = files['truncated']
    with pytest.raises(CheckpointError) as err:
        check_checkpoint_paths(cfg)
    assert str(err.value) == 'load_from: ' + NOT_A_CHECKPOINT.format(
        files['truncated'])
    cfg.resume = True  # --resume PATH
    with pytest.raises(CheckpointError) as err:
        check_checkpoint_paths(cfg)
    assert str(err.value) == '--resume: ' + NOT_A_CHECKPOINT.format(
        files['truncated'])
    cfg.load_from = files['tiny']
    check_checkpoint_paths(cfg)
