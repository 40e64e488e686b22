"""The weights-only allow-list reads mmengine checkpoints and nothing more."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import hpm_mm  # noqa: F401


def test_message_hub_state_loads_weights_only():
    hub = MessageHub.get_instance('hpm_test_compat')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('eta', np.float64(3.0))
    buf = io.BytesIO()
    torch.save({'message_hub': hub.state_dict(), 'x': np.arange(3)}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    restored = state['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.current() == 1.5
    assert restored.statistics('mean') == 1.5


class _Sneaky:
    """Pickles as getattr(HistoryBuffer, '__init__'): must be refused."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_other_getattr_is_refused():
    buf = io.BytesIO()
    torch.save({'evil': _Sneaky()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='refused'):
        torch.load(buf, weights_only=True)
