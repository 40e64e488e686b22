"""The installed mmaction2 stack the video work runs on."""
import importlib
from importlib import metadata

OPENCV = ('opencv-python', 'opencv-contrib-python', 'opencv-python-headless',
          'opencv-contrib-python-headless')


def test_mmaction_models_import():
    """mmaction2 1.2.0's wheel lacks models/localizers/drn, which
    ``mmaction.models`` imports; the set-up repairs it."""
    models = importlib.import_module('mmaction.models')
    assert models.Recognizer3D and models.VisionTransformer


def test_one_opencv_distribution():
    """Two OpenCV wheels share the ``cv2`` folder, and uninstalling either
    breaks the other: exactly one may be installed."""
    installed = []
    for name in OPENCV:
        try:
            installed.append(f'{name}=={metadata.version(name)}')
        except metadata.PackageNotFoundError:
            pass
    assert len(installed) == 1, installed
    import cv2
    assert cv2.VideoWriter_fourcc(*'mp4v')
