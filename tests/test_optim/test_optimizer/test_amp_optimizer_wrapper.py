from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.optim import AmpOptimWrapper


def _setup(seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)
    return model, wrapper


def _train(model, wrapper, steps: int = 3) -> None:
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        with wrapper.optim_context(model):
            out = model(x)
        wrapper.update_params(out.float().pow(2).mean())


def test_bf16_on_cpu_autocasts_without_scaler():
    model, wrapper = _setup(dtype="bfloat16")
    assert wrapper.loss_scaler is None
    with wrapper.optim_context(model):
        assert model(torch.ones(1, 4)).dtype == torch.bfloat16
    assert model(torch.ones(1, 4)).dtype == torch.float32  # only inside the context
    before = model.weight.detach().clone()
    _train(model, wrapper)
    assert not torch.equal(before, model.weight)
    assert model.weight.dtype == torch.float32
    assert "loss_scaler" not in wrapper.state_dict()


def test_fp16_scaler_state_round_trip(tmp_path):
    model, wrapper = _setup(dtype="float16", loss_scale=dict(init_scale=256.0, growth_interval=2))
    with wrapper.optim_context(model):
        assert model(torch.ones(1, 4)).dtype == torch.float16
    _train(model, wrapper, steps=4)
    assert wrapper.loss_scaler.get_scale() == 1024.0  # grew twice (every 2 good steps)
    path = tmp_path / "amp.pth"
    torch.save(wrapper.state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert state["loss_scaler"]["scale"] == 1024.0

    model2, restored = _setup(seed=1, dtype="float16")
    assert restored.loss_scaler.get_scale() == 65536.0
    restored.load_state_dict(state)
    assert "loss_scaler" in state  # the caller's dict is not consumed
    assert restored.loss_scaler.get_scale() == 1024.0
    assert restored.loss_scaler.state_dict()["growth_interval"] == 2


def test_fp16_overflow_skips_step_and_backs_off():
    model, wrapper = _setup(dtype="float16", loss_scale="dynamic")
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        loss = model(torch.ones(2, 4)).float().sum()
    wrapper.backward(loss)
    model.weight.grad[0, 0] = float("inf")
    wrapper.step()
    assert torch.equal(model.weight, before)
    assert wrapper.loss_scaler.get_scale() == 65536.0 / 2


def test_static_loss_scale_stays_fixed():
    model, wrapper = _setup(dtype="float16", loss_scale=512.0)
    _train(model, wrapper, steps=3)
    assert wrapper.loss_scaler.get_scale() == 512.0


def test_fp16_clip_grad_unscales_first():
    model, wrapper = _setup(dtype="float16", loss_scale=1024.0, clip_grad=dict(max_norm=1e-3))
    before = [p.detach().clone() for p in model.parameters()]
    _train(model, wrapper, steps=1)
    delta = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)])
    # lr 0.1 times a gradient clipped (after unscaling) to norm 1e-3
    assert delta.norm().item() == pytest.approx(1e-4, rel=1e-2)


def test_invalid_dtype_and_loss_scale():
    with pytest.raises(ValueError, match="dtype"):
        _setup(dtype="float64")
    with pytest.raises(TypeError, match="loss_scale"):
        _setup(dtype="float16", loss_scale="static")
