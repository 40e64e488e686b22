"""HPM.loss under TorchDynamo: one graph, no graph break, no recompile."""
import torch
import torch._dynamo
from mmcv.cnn.bricks.drop import DropPath

from .conftest import TINY_IMG, build_tiny_hpm


def test_hpm_loss_traces_to_one_graph():
    model = build_tiny_hpm(
        backbone=dict(drop_path_rate=0.1),
        masker=dict(type='HardPatchMasker', fixed_alpha=0.5)).train()
    drops = [m for m in model.modules() if isinstance(m, DropPath)]
    assert drops and all(type(m.drop_prob) is float for m in drops)
    assert max(m.drop_prob for m in drops) == 0.1  # values kept
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.loss)(x, None)
    reasons = [b.reason for b in explained.break_reasons]
    # the teacher-hook check runs outside the graph (one resume point);
    # teacher, masker, encoder, both branches and losses are one graph
    assert explained.graph_break_count == 0, reasons
    assert explained.graph_count == 1


def test_hpm_loss_does_not_recompile_per_step():
    from torch._dynamo.testing import CompileCounter
    model = build_tiny_hpm(
        masker=dict(type='HardPatchMasker', fixed_alpha=0.5)).train()
    x = torch.randn(2, 3, TINY_IMG, TINY_IMG)
    torch._dynamo.reset()
    counter = CompileCounter()  # traces only, no Inductor code generation
    loss = torch.compile(model.loss, backend=counter)
    for _ in range(3):
        loss(x, None)
    assert counter.frame_count == 1
