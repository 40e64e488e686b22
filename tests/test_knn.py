"""Weighted kNN evaluation: the classifier, the features, the tool."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from PIL import Image

from hpm_mm.converters import CheckpointError
from hpm_mm.evaluation import (build_encoder, build_split, extract_features,
                               knn_classify, topk_neighbours)

from .conftest import ROOT, build_tiny_hpm, load_ckpt
from hpm_mm.testing import write_imagenet

from .downstream.helpers import (convert, load_tool, released_checkpoint,
                                 save_hpm_checkpoint)


def _clusters(n_per_class, num_classes, dim, noise, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:num_classes]
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    x = centres[labels] + noise * torch.randn(len(labels), dim, generator=g)
    return F.normalize(x, dim=1), labels


# ------------------------------------------------------------ classifier --
def test_separable_clusters_are_classified_exactly():
    """Each val sample sits next to its own class's train cluster: every k
    (even k = all 200 train samples) must give 100% top-1 and top-5."""
    train, train_y = _clusters(50, 4, 16, 0.1, seed=0)
    order = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    train, train_y = train[order], train_y[order]  # classes mixed in chunks
    val, val_y = _clusters(20, 4, 16, 0.1, seed=1)
    res = knn_classify(train, train_y, val, val_y, ks=(10, 20, 100, 200),
                       query_chunk=7, key_chunk=33)
    assert set(res) == {10, 20, 100, 200}
    for k, acc in res.items():
        assert acc == dict(top1=100.0, top5=100.0), k


def test_shuffled_labels_are_near_chance():
    """Clustered features: with their labels kNN is (near) perfect; with the
    labels shuffled it is at chance, 10 classes -> top-1 ~ 10%, top-5 ~ 50%
    (1000 val samples: binomial std 1% and 1.6%)."""
    train, train_y = _clusters(200, 10, 32, 0.1, seed=0)
    val, val_y = _clusters(100, 10, 32, 0.1, seed=1)
    res = knn_classify(train, train_y, val, val_y, ks=(20, 200))
    for acc in res.values():
        assert acc['top1'] > 99.0
    g = torch.Generator().manual_seed(0)
    train_y = train_y[torch.randperm(len(train_y), generator=g)]
    val_y = val_y[torch.randperm(len(val_y), generator=g)]
    res = knn_classify(train, train_y, val, val_y, ks=(20, 200))
    for acc in res.values():
        assert 6.0 < acc['top1'] < 14.0
        assert 43.0 < acc['top5'] < 57.0


def _brute_force(train, train_y, val, val_y, ks, temperature, num_classes):
    """Full similarity matrix, full sort, per-sample numpy votes."""
    sim = (val @ train.T).double().numpy()  # (M, N): fine at test sizes
    train_y, val_y = train_y.numpy(), val_y.numpy()
    out = {}
    for k in ks:
        top1 = top5 = 0
        for i in range(len(val)):
            order = np.argsort(-sim[i])[:k]
            votes = np.zeros(num_classes)
            np.add.at(votes, train_y[order], np.exp(sim[i, order] /
                                                    temperature))
            ranked = [c for c in np.argsort(-votes) if votes[c] > 0]
            top1 += ranked[0] == val_y[i]
            top5 += val_y[i] in ranked[:5]
        out[k] = dict(top1=100.0 * top1 / len(val),
                      top5=100.0 * top5 / len(val))
    return out


def test_chunked_search_equals_the_full_matrix():
    g = torch.Generator().manual_seed(3)
    train = F.normalize(torch.randn(150, 24, generator=g), dim=1)
    val = F.normalize(torch.randn(43, 24, generator=g), dim=1)
    train_y = torch.randint(0, 9, (150, ), generator=g)
    val_y = torch.randint(0, 9, (43, ), generator=g)
    # neighbours: k below and above the chunk size, a ragged last chunk
    for k in (5, 50):
        sims, idx = topk_neighbours(val, train, k=k, key_chunk=37)
        full = (val @ train.T).topk(k, dim=1)
        assert torch.equal(idx, full.indices)
        assert torch.allclose(sims, full.values, atol=1e-6)
    for ks in ((1, 3, 10), (1, 3, 10, 40, 150)):
        chunked = knn_classify(train, train_y, val, val_y, ks=ks,
                               temperature=0.07, query_chunk=10,
                               key_chunk=37)
        assert chunked == _brute_force(train, train_y, val, val_y, ks, 0.07,
                                       9)
    # a different temperature changes the votes, and is followed
    hot = knn_classify(train, train_y, val, val_y, ks=(150, ),
                       temperature=1.0, query_chunk=10, key_chunk=37)
    assert hot == _brute_force(train, train_y, val, val_y, (150, ), 1.0, 9)
    assert hot[150] != chunked[150]


def test_k_above_the_train_size_is_clipped_with_a_warning():
    train, train_y = _clusters(3, 2, 4, 0.1, seed=0)
    val, val_y = _clusters(2, 2, 4, 0.1, seed=1)
    with pytest.warns(UserWarning, match='k=10 is more than the 6 train'):
        res = knn_classify(train, train_y, val, val_y, ks=(2, 10))
    assert res[10] == knn_classify(train, train_y, val, val_y, ks=(6, ))[6]


@pytest.mark.parametrize('kwargs, message', [
    (dict(ks=()), 'ks must be positive'),
    (dict(ks=(0, 5)), 'ks must be positive'),
    (dict(temperature=0.0), 'temperature must be positive'),
    (dict(query_chunk=0), 'query_chunk must be positive'),
    (dict(key_chunk=0), 'key_chunk must be positive'),
])
def test_bad_classifier_arguments_are_named(kwargs, message):
    train, train_y = _clusters(3, 2, 4, 0.1, seed=0)
    with pytest.raises(ValueError, match=message):
        knn_classify(train, train_y, train, train_y, **dict(dict(ks=(2, )),
                                                            **kwargs))
    with pytest.raises(ValueError, match='same C'):
        knn_classify(train, train_y, train[:, :3], train_y)


# -------------------------------------------------------------- features --
def test_eval_transform_is_dinos(tmp_path):
    """The tensor fed to the encoder equals torchvision's PIL pipeline of
    DINO/main_knn.py: Resize(256, bicubic), CenterCrop(224), ToTensor,
    Normalize (channel order included)."""
    from mmengine.dataset import pseudo_collate
    from torchvision import transforms as T

    from hpm_mm.evaluation.features import eval_preprocessor
    root = tmp_path / 'data'
    (root / 'val').mkdir(parents=True)
    (root / 'meta').mkdir()
    rng = np.random.default_rng(0)
    # strongly coloured, different per channel, not square
    arr = np.stack([
        np.tile(np.linspace(0, 255, 300), (200, 1)),
        np.tile(np.linspace(255, 0, 200)[:, None], (1, 300)),
        rng.integers(0, 256, (200, 300)).astype(float)
    ], axis=2).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": torchvision's loader ignores it
    Image.fromarray(arr).save(root / 'val' / 'a.JPEG', quality=95, exif=exif)
    (root / 'meta' / 'val.txt').write_text('a.JPEG 0\n')
    dataset = build_split(str(root), 'val', img_size=224)
    ours = eval_preprocessor()(pseudo_collate([dataset[0]]))['inputs'][0]
    dino = T.Compose([
        T.Resize(256, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    ])
    with Image.open(root / 'val' / 'a.JPEG') as img:
        ref = dino(img.convert('RGB'))
    assert ours.shape == ref.shape == (3, 224, 224)
    assert (ours - ref).abs().max() < 1e-4


def test_missing_split_is_named(tmp_path):
    write_imagenet(str(tmp_path))
    os.remove(tmp_path / 'meta' / 'val.txt')
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'meta')):
        build_split(str(tmp_path), 'val')


@pytest.fixture(scope='module')
def tiny_hpm():
    # the teacher differs from the student
    return build_tiny_hpm(distinct_teacher=True).eval()


def _cls_features(backbone, x):
    """cls token after the final norm of an HPM (student/teacher) encoder."""
    with torch.no_grad():
        return backbone(x, mask=None)[0][:, 0]


@pytest.mark.parametrize('fmt', ['hpm', 'released', 'mmpretrain'])
@pytest.mark.parametrize('source', ['student', 'teacher'])
def test_encoder_gives_the_pretrained_cls_token(fmt, source, tiny_hpm,
                                                tmp_path, request):
    path = str(tmp_path / 'ckpt.pth')
    save_hpm_checkpoint(tiny_hpm, path)
    if fmt == 'released':
        torch.save(released_checkpoint(tiny_hpm), path)
    elif fmt == 'mmpretrain':  # tools/convert_checkpoint.py --to mmpretrain
        convert(path, path + '.vit', 'mmpretrain', '--source', source)
        path, source = path + '.vit', 'student'  # one encoder in the file
    encoder = build_encoder(path, source=source, num_heads=2)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ours = encoder(x)[0]
    net, other = tiny_hpm.backbone, tiny_hpm.teacher.module.backbone
    if 'teacher' in request.node.callspec.id:
        net, other = other, net
    assert torch.allclose(ours, _cls_features(net, x), atol=1e-5)
    assert not torch.allclose(ours, _cls_features(other, x), atol=1e-3)
    assert not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.training


def test_encoder_needs_a_head_count_and_whole_weights(tiny_hpm, tmp_path):
    path = save_hpm_checkpoint(tiny_hpm, str(tmp_path / 'ckpt.pth'))
    with pytest.raises(CheckpointError, match='number of attention heads'):
        build_encoder(path)  # 32 wide, 4 blocks: no standard ViT
    with pytest.raises(CheckpointError, match='num_layers 4 vs config 2'):
        build_encoder(path, config_arch=dict(num_layers=2, num_heads=2))
    state = load_ckpt(path)['state_dict']
    del state['backbone.ln1.weight']
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointError, match=r'does not fit VisionTransformer'
                       r': 1 keys missing \(e\.g\. ln1\.weight\)'):
        build_encoder(path, num_heads=2)


def test_head_count_of_standard_vits_and_configs():
    from hpm_mm.evaluation import arch_from_config, standard_num_heads
    base = dict(embed_dims=768, num_layers=12, feedforward_channels=3072)
    large = dict(embed_dims=1024, num_layers=24, feedforward_channels=4096)
    assert standard_num_heads(base) == 12
    assert standard_num_heads(large) == 16
    assert standard_num_heads(dict(base, num_layers=5)) is None
    for name, heads in (('hpm_vit-b.py', 12), ('hpm_vit-l.py', 16)):
        arch = arch_from_config(osp.join(ROOT, 'configs', 'pretrain', name))
        assert arch['num_heads'] == heads


# ------------------------------------------------------------ distributed --
def _encoder():
    from mmpretrain.models import VisionTransformer
    torch.manual_seed(0)
    net = VisionTransformer(
        arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                  feedforward_channels=32),
        img_size=32, patch_size=16, out_type='cls_token')
    net.init_weights()
    net.eval()
    return net


def _gather_worker(rank, world, port, root, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        feats = extract_features(_encoder(), build_split(root, 'train', 32),
                                 batch_size=2, num_workers=0)
        torch.save(feats, osp.join(out, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_gather_features_in_dataset_order(tmp_path):
    """5 images on 2 ranks (the sampler pads one): both ranks get the
    single-process features, in dataset order."""
    root = write_imagenet(str(tmp_path / 'data'), per_class=5,
                          num_classes=1, size=40)
    dataset = build_split(root, 'train', 32)
    single = extract_features(_encoder(), dataset, batch_size=2,
                              num_workers=0)
    assert single.shape == (5, 16)
    assert torch.allclose(single.norm(dim=1), torch.ones(5))
    assert len(set(map(tuple, single.tolist()))) == 5  # distinct images
    # fork: the children inherit the imported modules (spawn re-imports)
    mp.start_processes(_gather_worker,
                       args=(2, _free_port(), root, str(tmp_path)),
                       nprocs=2, start_method='fork')
    for r in range(2):
        gathered = torch.load(tmp_path / f'rank{r}.pt', weights_only=True)
        assert torch.allclose(gathered, single, atol=1e-6), r


# ------------------------------------------------------------------- tool --
def test_knn_eval_tool_on_a_trained_checkpoint(tmp_path):
    """Pre-train the tiny config for 2 epochs with the Runner, then run
    tools/knn_eval.py on the checkpoint (config gives the heads)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from hpm_mm.cli import setup_train_cfg

    from .conftest import write_tiny_config
    data = write_imagenet(str(tmp_path / 'data'), per_class=4, size=40)
    config = write_tiny_config(str(tmp_path / 'tiny.py'), data)
    work = str(tmp_path / 'work')
    cfg = setup_train_cfg(Config.fromfile(config), work_dir=work)
    Runner.from_cfg(cfg).train()
    ckpt = osp.join(work, 'epoch_2.pth')
    out = str(tmp_path / 'knn.json')
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'knn_eval.py'), config, '--checkpoint', ckpt,
        '--data-root', data, '--source', 'teacher', '--img-size', '32',
        '--ks', '1', '3', '20', '--num-workers', '0', '--out', out
    ], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'k=20 is more than the 8 train samples' in proc.stderr
    res = json.load(open(out))
    assert (res['num_train'], res['num_val'], res['source']) == (8, 4,
                                                                 'teacher')
    assert set(res['results']) == {'1', '3', '20'}
    # the same numbers from the library, in this process
    encoder = build_encoder(ckpt, 'teacher', num_heads=2)
    train, val = build_split(data, 'train', 32), build_split(data, 'val', 32)
    kw = dict(batch_size=3, num_workers=0)
    expected = knn_classify(
        extract_features(encoder, train, **kw),
        torch.as_tensor(train.get_gt_labels()),
        extract_features(encoder, val, **kw),
        torch.as_tensor(val.get_gt_labels()), ks=(1, 3, 8))
    for k, k_used in (('1', 1), ('3', 3), ('20', 8)):
        assert res['results'][k] == pytest.approx(expected[k_used]), k
    lines = proc.stdout.splitlines()
    head = lines.index(next(l for l in lines if l.split()[:1] == ['k']))
    assert lines[head].split() == ['k', 'top-1', 'top-5']
    row = lines[head + 3].split()  # k = 20
    assert row[0] == '20'
    assert float(row[1]) == pytest.approx(res['results']['20']['top1'],
                                          abs=0.01)


def test_knn_eval_tool_errors_are_one_line(tmp_path, capsys, tiny_hpm):
    tool = load_tool('knn_eval')
    ckpt = save_hpm_checkpoint(tiny_hpm, str(tmp_path / 'ckpt.pth'))
    nowhere = str(tmp_path / 'nowhere')
    for argv, names in (
        ([ckpt, '--data-root', nowhere, '--num-heads', '2'],
         (osp.join(nowhere, 'meta', 'train.txt'), )),
        ([str(tmp_path / 'missing.pth'), '--data-root', nowhere],
         ('checkpoint not found', 'missing.pth')),
    ):
        with pytest.raises(SystemExit) as exc:
            tool.main(argv)
        assert exc.value.code.startswith('knn_eval: error: '), argv
        for name in names:
            assert name in exc.value.code
    with pytest.raises(SystemExit):
        tool.main(['configs/pretrain/hpm_vit-b.py', '--data-root', '.'])
    assert 'a config needs --checkpoint' in capsys.readouterr().err
    with pytest.raises(SystemExit):  # before any image is encoded
        tool.main([ckpt, '--data-root', nowhere, '--ks', '10', '0'])
    assert 'ks must be positive, got [10, 0]' in capsys.readouterr().err
