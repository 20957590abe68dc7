from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
from torch import nn

from torchrig.optim import OptimWrapper


def _model(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(4, 2)


def _data(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(n, 4, generator=gen), torch.randn(n, 2, generator=gen)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(model(x), y)


def _sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_accumulation_matches_larger_batch():
    x, y = _data(16)
    big = _model()
    big_wrapper = OptimWrapper(_sgd(big))
    for update in range(2):
        sl = slice(update * 8, update * 8 + 8)
        big_wrapper.update_params(_loss(big, x[sl], y[sl]))

    small = _model()
    small_wrapper = OptimWrapper(_sgd(small), accumulative_counts=4)
    before = small.weight.detach().clone()
    for micro in range(8):
        sl = slice(micro * 2, micro * 2 + 2)
        small_wrapper.update_params(_loss(small, x[sl], y[sl]))
        if micro == 2:  # three of four micro-batches: no update yet
            assert torch.equal(small.weight, before)

    assert small_wrapper.inner_count == 8
    assert not torch.equal(small.weight, before)
    torch.testing.assert_close(small.weight, big.weight)
    torch.testing.assert_close(small.bias, big.bias)


def test_accumulation_tail_is_scaled_by_its_own_length():
    # 6 iterations, k=4: one update from 4 micro-batches, one from the last 2.
    x, y = _data(12)
    big = _model()
    big_wrapper = OptimWrapper(_sgd(big))
    big_wrapper.update_params(_loss(big, x[:8], y[:8]))
    big_wrapper.update_params(_loss(big, x[8:], y[8:]))

    small = _model()
    wrapper = OptimWrapper(_sgd(small), accumulative_counts=4)
    wrapper.initialize_count_status(small, init_counts=0, max_counts=6)
    assert wrapper.max_counts == 6
    updates = []
    for micro in range(6):
        sl = slice(micro * 2, micro * 2 + 2)
        wrapper.update_params(_loss(small, x[sl], y[sl]))
        updates.append(wrapper.should_update())
    assert updates == [False, False, False, True, False, True]
    torch.testing.assert_close(small.weight, big.weight)
    torch.testing.assert_close(small.bias, big.bias)


def test_should_sync_and_no_sync_context():
    class FakeDDP(nn.Linear):
        def __init__(self) -> None:
            super().__init__(2, 2)
            self.no_sync_calls = 0

        @contextmanager
        def no_sync(self):
            self.no_sync_calls += 1
            yield

    model = FakeDDP()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=3)
    synced = []
    for _ in range(6):
        synced.append(wrapper.should_sync())
        with wrapper.optim_context(model):
            wrapper.update_params(model(torch.ones(1, 2)).sum())
    assert synced == [False, False, True, False, False, True]
    assert model.no_sync_calls == 4


def test_clip_grad_by_norm_records_tensor_in_message_hub():
    from torchrig.logging import MessageHub

    hub = MessageHub.get_instance("test_clip_grad_by_norm")
    sent = []
    update_scalar = hub.update_scalar

    def spy(key, value, *args, **kwargs):
        sent.append(value)
        return update_scalar(key, value, *args, **kwargs)

    hub.update_scalar = spy
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=1.0), clip_grad=dict(max_norm=0.5, norm_type=2)
    )
    wrapper.update_params(model(torch.full((1, 3), 10.0)).sum())
    # The gradient is 10 per element; the applied update is clipped to norm 0.5.
    torch.testing.assert_close(model.weight.norm(), torch.tensor(0.5))
    assert hub.get_scalar("train/grad_norm").current() == pytest.approx(10.0 * 3**0.5)
    assert isinstance(sent[0], torch.Tensor)  # no .item() (a device sync) per step


def test_clip_grad_without_message_hub_works():
    model = nn.Linear(3, 1, bias=False)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), clip_grad=dict(max_norm=1))
    wrapper.update_params(model(torch.full((1, 3), 10.0)).sum())  # no hub: no error


def test_clip_grad_by_value_does_not_mutate_config():
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    clip_cfg = dict(type="value", clip_value=0.1)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), clip_grad=clip_cfg)
    assert clip_cfg == dict(type="value", clip_value=0.1)
    wrapper.update_params(model(torch.tensor([[5.0, -5.0, 0.01]])).sum())
    torch.testing.assert_close(model.weight, torch.tensor([[-0.1, 0.1, -0.01]]))


def test_invalid_arguments_raise():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="accumulative_counts"):
        OptimWrapper(optimizer, accumulative_counts=0)
    with pytest.raises(ValueError, match="clip_grad type"):
        OptimWrapper(optimizer, clip_grad=dict(type="l1", max_norm=1))
    with pytest.raises(TypeError, match="clip_grad"):
        OptimWrapper(optimizer, clip_grad={})
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        OptimWrapper(model)


def test_get_lr_momentum_param_groups_defaults():
    model = nn.Linear(2, 2)
    sgd = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.8))
    assert sgd.get_lr() == {"lr": [0.1]}
    assert sgd.get_momentum() == {"momentum": [0.8]}
    assert sgd.param_groups is sgd.optimizer.param_groups
    assert sgd.defaults["lr"] == 0.1
    adam = OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.7, 0.99)))
    assert adam.get_momentum() == {"momentum": [0.7]}
    rprop = OptimWrapper(torch.optim.Rprop(model.parameters(), lr=0.01))
    assert rprop.get_momentum() == {"momentum": [0]}


def test_zero_grad_and_step_kwargs():
    model = nn.Linear(2, 2)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    wrapper.backward(model(torch.ones(1, 2)).sum())
    assert model.weight.grad is not None
    wrapper.step()
    wrapper.zero_grad(set_to_none=False)
    assert torch.equal(model.weight.grad, torch.zeros_like(model.weight))


def test_state_dict_round_trip_weights_only(tmp_path):
    model = _model()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.01))
    x, y = _data(4)
    for _ in range(3):
        wrapper.update_params(_loss(model, x, y))
    path = tmp_path / "optim.pth"
    torch.save(wrapper.state_dict(), path)
    state = torch.load(path, weights_only=True)

    clone = _model()
    clone.load_state_dict(model.state_dict())
    restored = OptimWrapper(torch.optim.Adam(clone.parameters(), lr=0.5))
    restored.load_state_dict(state)
    assert restored.get_lr() == {"lr": [0.01]}
    wrapper.update_params(_loss(model, x, y))
    restored.update_params(_loss(clone, x, y))
    torch.testing.assert_close(clone.weight, model.weight, rtol=0, atol=0)
