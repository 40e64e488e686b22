"""Fixtures shared by the downstream tests: one tiny HPM and its files."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

import hpm_mm  # noqa: F401
import hpm_mm.downstream.det  # noqa: F401  (mmdet registration)
import hpm_mm.downstream.seg  # noqa: F401  (mmseg registration)

from ..conftest import build_tiny_hpm
from .helpers import released_checkpoint, save_hpm_checkpoint


@pytest.fixture(scope='session')
def hpm_model():
    """A tiny random HPM (student and teacher differ), in eval mode."""
    return build_tiny_hpm(distinct_teacher=True).eval()


@pytest.fixture(scope='session')
def hpm_ckpt(hpm_model, tmp_path_factory) -> str:
    """``hpm_model`` saved as an hpm_mm pretraining checkpoint."""
    path = tmp_path_factory.mktemp('ckpt') / 'hpm_tiny.pth'
    return save_hpm_checkpoint(hpm_model, str(path))


@pytest.fixture(scope='session')
def released_ckpt(hpm_model, tmp_path_factory) -> str:
    """``hpm_model`` in the authors' released format (``module.`` keys)."""
    path = tmp_path_factory.mktemp('ckpt') / 'released_tiny.pth'
    torch.save(released_checkpoint(hpm_model), str(path))
    return str(path)


@pytest.fixture(autouse=True)
def _keep_default_scope():
    """A Runner makes its config's scope (mmdet, mmseg) the default one for
    the whole process; put the previous default back after each test."""
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved
