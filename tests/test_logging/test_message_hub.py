from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch

from torchrig.logging import HistoryBuffer, MessageHub


def test_current_instance_is_created_on_demand() -> None:
    MessageHub._instance_dict.clear()
    hub = MessageHub.get_current_instance()
    assert hub.instance_name == "torchrig"
    other = MessageHub.get_instance("run1")
    assert MessageHub.get_current_instance() is other
    assert MessageHub.check_instance_created("run1")


def test_update_and_get() -> None:
    hub = MessageHub("hub")
    hub.update_scalar("train/loss", 1.0)
    hub.update_scalar("train/loss", np.float32(3.0), count=1)
    hub.update_scalars({"train/acc": 0.5, "val/acc": {"value": 4.0, "count": 2}})
    hub.update_scalars({"train/acc": 1.5}, count=1)
    assert hub.get_scalar("train/loss").mean() == 2.0
    assert hub.get_scalar("val/acc").mean() == 2.0
    assert hub.get_scalar("train/acc").current() == 1.5
    assert list(hub.log_scalars) == ["train/loss", "train/acc", "val/acc"]
    with pytest.raises(KeyError, match="train/nope"):
        hub.get_scalar("train/nope")
    hub.update_info("epoch", 3)
    hub.update_info_dict({"iter": 10, "max_iters": 100})
    assert hub.get_info("iter") == 10 and hub.runtime_info["max_iters"] == 100
    assert hub.get_info("missing", "dflt") == "dflt"
    assert hub.pop_info("iter") == 10 and hub.get_info("iter") is None
    with pytest.raises(ValueError, match="resumed"):
        hub.update_info("epoch", 4, resumed=False)
    with pytest.raises(KeyError, match="value"):
        hub.update_scalars({"x": {"count": 1}})


def test_tensor_losses_are_not_synchronised_per_update() -> None:
    hub = MessageHub("hub")
    with mock.patch.object(torch.Tensor, "item", side_effect=AssertionError("synced")):
        for i in range(20):
            hub.update_scalar("train/loss", torch.tensor(float(i), requires_grad=True) * 1)
        stored = hub.get_scalar("train/loss")._pending[0][0]
        assert isinstance(stored, torch.Tensor) and not stored.requires_grad
        assert hub.get_scalar("train/loss").mean(10) == pytest.approx(14.5)


def test_state_dict_is_weights_only_safe_and_restores_exactly(tmp_path) -> None:
    hub = MessageHub("hub")
    for i in range(30):
        hub.update_scalar("train/loss", torch.tensor(1.0 / (i + 1)))
        hub.update_scalar("train/time", 0.01 * i, resumed=True)
    hub.update_scalar("train/skip", 1.0, resumed=False)
    hub.update_info("epoch", 2)
    hub.update_info("meta", {"classes": ("a", "b"), "arr": np.arange(3), "t": torch.ones(2)})
    hub.update_info("not_saved", object(), resumed=False)
    state = hub.state_dict()
    assert "train/skip" not in state["log_scalars"] and "not_saved" not in state["runtime_info"]
    path = tmp_path / "ckpt.pth"
    torch.save({"message_hub": state}, path)
    loaded = torch.load(path, weights_only=True)["message_hub"]
    other = MessageHub("other")
    assert other.load_state_dict(loaded) is other
    for key in ("train/loss", "train/time"):
        a, b = hub.get_scalar(key), other.get_scalar(key)
        assert a.state_dict() == b.state_dict()
        assert (a.mean(), a.mean(7), a.max(), a.min(), a.current()) == (
            b.mean(),
            b.mean(7),
            b.max(),
            b.min(),
            b.current(),
        )
    assert other.get_info("epoch") == 2
    assert other.get_info("meta")["arr"] == [0, 1, 2]
    assert other.get_info("meta")["classes"] == ("a", "b")
    assert torch.equal(other.get_info("meta")["t"], torch.ones(2))
    assert other.state_dict()["resumed_keys"] == state["resumed_keys"]
    # restored hubs keep counting from where they were
    other.update_scalar("train/loss", 5.0)
    assert other.get_scalar("train/loss").current() == 5.0
    assert len(hub.get_scalar("train/loss")) == 30


def test_load_state_dict_accepts_history_buffers_and_hubs() -> None:
    buf = HistoryBuffer([1.0, 2.0], [1, 1])
    hub = MessageHub("h")
    hub.load_state_dict(
        {"log_scalars": {"train/x": buf}, "runtime_info": {"a": 1}, "resumed_keys": {"a": True}}
    )
    assert hub.get_scalar("train/x").mean() == 1.5
    assert hub.get_scalar("train/x") is not buf
    copy_hub = MessageHub("c").load_state_dict(hub)
    assert copy_hub.get_info("a") == 1 and copy_hub.get_scalar("train/x").current() == 2.0
    with pytest.raises(KeyError, match="resumed_keys"):
        hub.load_state_dict({"log_scalars": {}, "runtime_info": {}})
