"""HPM.loss under TorchDynamo with the released alpha_t schedule.

The model of ``configs/pretrain/hpm_vit-b.py`` (its masker, schedule,
drop path and 224 px / 16 px grid; only the widths shrunk), alpha_t advanced
by the model's training forward, outside the compiled ``loss``, as in
training: one graph, no graph break, and at most two compilations (mining
or not) over the whole schedule.
"""
import pytest
import torch
import torch._dynamo
from mmcv.cnn.bricks.drop import DropPath
from mmengine.config import Config
from mmpretrain.registry import MODELS
from torch._dynamo.testing import CompileCounter

from hpm_mm.models import HPM

from .conftest import ROOT, TINY_ARCH, set_progress

EPOCHS = 800  # the released schedule: alpha_t = 0.5 (e + 1) / 800


def real_config_model() -> torch.nn.Module:
    cfg = Config.fromfile(f'{ROOT}/configs/pretrain/hpm_vit-b.py')
    model_cfg = cfg.model
    model_cfg.backbone.arch = dict(TINY_ARCH)
    model_cfg.backbone.drop_path_rate = 0.1
    model_cfg.neck.update(embed_dim=32, decoder_embed_dim=16,
                          decoder_depth=1, decoder_num_heads=2)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.train()


def advance(model, hub, epoch: int) -> None:
    """The Runner's progress at ``epoch``, and what a training forward does
    with it before the step."""
    set_progress(hub, epoch=epoch, max_epochs=EPOCHS)
    model.masker.update_alpha()


@pytest.mark.parametrize('epoch', [0, 400])  # n_hard 0 (no teacher) and 36
def test_hpm_loss_traces_to_one_graph(message_hub, epoch):
    model = real_config_model()
    drops = [m for m in model.modules() if isinstance(m, DropPath)]
    assert drops and all(type(m.drop_prob) is float for m in drops)
    advance(model, message_hub, epoch)
    assert model.masker.mines == (epoch > 0)
    x = torch.randn(2, 3, 224, 224)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.loss)(x, None)
    reasons = [b.reason for b in explained.break_reasons]
    assert explained.graph_break_count == 0, reasons
    assert explained.graph_count == 1


def test_compiled_step_follows_the_schedule_without_recompiling(message_hub):
    """Over 32 values of n_hard, the training forward (which advances
    alpha_t) around a compiled ``loss``: two compilations, and the compiled
    step computes what the eager one does at every epoch."""
    model = real_config_model()
    x = torch.randn(2, 3, 224, 224)
    torch._dynamo.reset()
    counter = CompileCounter()  # traces only, no Inductor code generation
    model.loss = torch.compile(model.loss, backend=counter)
    seen = set()
    for epoch in range(0, EPOCHS, 25):
        set_progress(message_hub, epoch=epoch, max_epochs=EPOCHS)
        torch.manual_seed(epoch)
        got = model(x, None, mode='loss')
        seen.add(int(model.masker.num_hard_t))
        torch.manual_seed(epoch)
        eager = HPM.loss(model, x, None)
        for key in ('loss_rec', 'loss_pred', 'rank_acc', 'alpha'):
            torch.testing.assert_close(got[key], eager[key], msg=key)
        assert got['alpha'].item() == pytest.approx(0.5 * (epoch + 1) /
                                                    EPOCHS)
    assert len(seen) >= 20 and 0 in seen
    assert counter.frame_count <= 3  # one graph + at most 2 recompiles
    assert counter.frame_count == 2  # n_hard = 0 (no teacher), n_hard > 0
