"""tools/visualize_hard_patches.py on the authors' checkpoint, converted."""
import glob
import os
import os.path as osp
import subprocess
import sys

from hpm_mm.testing import tiny_hpm_cfg, write_imagenet

from .helpers import ROOT, convert


def test_visualize_released_checkpoint(released_ckpt, tmp_path):
    ckpt = convert(released_ckpt, str(tmp_path / 'hpm.pth'), 'hpm')
    model = tiny_hpm_cfg()  # normalises as the released model
    cfg = tmp_path / 'tiny_hpm.py'
    cfg.write_text("custom_imports = dict(imports=['hpm_mm'])\n"
                   f'model = {model!r}\n')
    root = write_imagenet(str(tmp_path / 'data'))
    images = sorted(glob.glob(osp.join(root, 'train', '*', '*.JPEG')))[:2]
    out = tmp_path / 'vis.png'
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'visualize_hard_patches.py'),
         str(cfg), ckpt, *images, '--out', str(out)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert out.stat().st_size > 1000
