"""``MMFullyShardedDataParallel`` in one process (a world of one over gloo), and its config
parsing; the 2-process behaviour is in ``test_two_processes.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.distributed as torch_dist
from torch import nn

from torchrig.model import is_model_wrapper
from torchrig.model.wrappers.fully_sharded_distributed import (
    MMFullyShardedDataParallel,
    _mixed_precision_policy,
    _wrap_policy,
)
from torchrig.registry import MODEL_WRAPPERS


def _toy() -> ModuleType:
    path = Path(__file__).with_name("scripts") / "_toy.py"
    spec = importlib.util.spec_from_file_location("_toy_distributed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def world_of_one(tmp_path):
    store = torch_dist.FileStore(str(tmp_path / "store"), 1)
    torch_dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        yield
    finally:
        torch_dist.destroy_process_group()


def test_mixed_precision_from_config():
    policy = _mixed_precision_policy(dict(param_dtype="bfloat16", reduce_dtype="float32"))
    assert policy.param_dtype is torch.bfloat16 and policy.reduce_dtype is torch.float32
    assert _mixed_precision_policy(None).param_dtype is None
    with pytest.raises(ValueError, match="param_dtype.*'bfloat61'"):
        _mixed_precision_policy(dict(param_dtype="bfloat61"))
    with pytest.raises(ValueError, match="unknown keys \\['param_type'\\]"):
        _mixed_precision_policy(dict(param_type="bfloat16"))


def test_auto_wrap_policy_forms():
    linear, block = nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4))
    assert _wrap_policy(None) is None
    assert _wrap_policy(["Linear"])(linear) and not _wrap_policy(["Linear"])(block)
    assert _wrap_policy(nn.Sequential)(block)
    by_class = _wrap_policy(dict(type="module_classes", classes=[nn.Linear]))
    assert by_class(linear) and not by_class(block)
    by_size = _wrap_policy(dict(type="size_based", min_num_params=20))
    assert by_size(linear) and not _wrap_policy(dict(type="size_based", min_num_params=21))(linear)
    with pytest.raises(ValueError, match="size_based"):
        _wrap_policy(dict(type="size_based", min_params=3))


def test_registered_and_bad_state_dict_type():
    assert MODEL_WRAPPERS.get("MMFullyShardedDataParallel") is MMFullyShardedDataParallel
    with pytest.raises(ValueError, match="state_dict_type"):
        MMFullyShardedDataParallel(nn.Linear(2, 2), state_dict_type="local")


def test_steps_and_full_state_dicts_in_one_process(world_of_one, tmp_path):
    from torchrig.optim import OptimWrapper

    toy = _toy()
    torch.manual_seed(0)
    plain = toy.ToyRegressor()
    model = MMFullyShardedDataParallel(toy.ToyRegressor(), auto_wrap_policy=["Linear"])
    assert is_model_wrapper(model) and isinstance(model.module, toy.ToyRegressor)
    # A full state dict in, the bare model's keys and values out.
    model.load_state_dict(plain.state_dict())
    full = model.state_dict()
    assert sorted(full) == sorted(plain.state_dict())
    assert all(not hasattr(value, "device_mesh") for value in full.values())
    torch.testing.assert_close(full, plain.state_dict())
    partial = {key: value for key, value in full.items() if key != "net.2.bias"}
    assert model.load_state_dict(partial, strict=False).missing_keys == ["net.2.bias"]
    with pytest.raises(RuntimeError, match="missing key.*net.2.bias"):
        model.load_state_dict(partial)

    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    plain_optim = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    batch = dict(inputs=torch.randn(4, 4), targets=torch.randn(4), index=torch.arange(4))
    log_vars = model.train_step(batch, optim_wrapper)
    plain_loss = plain(**batch, mode="loss")["loss"]
    plain_loss.backward()
    plain_optim.step()
    assert log_vars["loss"].item() == pytest.approx(plain_loss.item())
    torch.testing.assert_close(model.state_dict(), plain.state_dict())
    predictions = model.val_step(batch)
    assert [p["index"] for p in predictions] == [0, 1, 2, 3]

    # The optimizer state is full and keyed by name, and goes back in.
    state = model.optim_state_dict(optim_wrapper)
    assert sorted(state["state"]) == sorted(full)
    momentum = state["state"]["net.0.weight"]["momentum_buffer"].clone()
    optim_wrapper.optimizer.state.clear()
    model.load_optim_state_dict(optim_wrapper, state)
    again = model.optim_state_dict(optim_wrapper)
    torch.testing.assert_close(again["state"]["net.0.weight"]["momentum_buffer"], momentum)

    # A sharded checkpoint's weights load without its optimizer state (load_from).
    model.save_sharded_checkpoint(str(tmp_path / "shards"), optim_wrapper)
    saved = model.state_dict()
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
    model.load_sharded_checkpoint(str(tmp_path / "shards"))
    torch.testing.assert_close(model.state_dict(), saved)
