"""Checkpoint files: atomic saves, weights-only loads, clear errors, key reports."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from torchrig.runner.checkpoint import (
    CheckpointError,
    _load_checkpoint,
    find_latest_checkpoint,
    get_state_dict,
    load_checkpoint,
    load_state_dict,
    save_checkpoint,
    weights_to_cpu,
)
from torchrig.runner.utils import get_rng_state, set_rng_state


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_save_then_load_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    net = _net()
    target = tmp_path / "sub" / "ckpt.pth"
    save_checkpoint({"state_dict": net.state_dict(), "meta": {"epoch": 1}}, target)
    assert sorted(os.listdir(target.parent)) == ["ckpt.pth"]
    other = _net()
    checkpoint = load_checkpoint(other, target)
    assert checkpoint["meta"] == {"epoch": 1}
    for key, value in net.state_dict().items():
        assert torch.equal(value, other.state_dict()[key])


def test_a_failed_save_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.pth"
    save_checkpoint({"value": torch.ones(2)}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        save_checkpoint({"value": torch.zeros(2), "bad": Unpicklable()}, target)
    assert os.listdir(tmp_path) == ["ckpt.pth"]
    assert torch.equal(_load_checkpoint(target)["value"], torch.ones(2))


def test_missing_truncated_and_corrupt_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        _load_checkpoint(tmp_path / "nope.pth")
    good = tmp_path / "good.pth"
    save_checkpoint({"state_dict": _net().state_dict()}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pth.*truncated or corrupt"):
        load_checkpoint(_net(), truncated)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        _load_checkpoint(garbage)


def test_weights_only_is_the_default_and_opting_out_is_explicit(tmp_path: Path) -> None:
    path = tmp_path / "objects.pth"
    torch.save({"value": Fraction(1, 3)}, path)  # an arbitrary class: refused by weights_only
    with pytest.raises(CheckpointError, match="weights_only=False"):
        _load_checkpoint(path)
    assert _load_checkpoint(path, weights_only=False)["value"] == Fraction(1, 3)


def test_mismatched_keys_and_shapes_are_reported(tmp_path: Path, caplog) -> None:
    source = _net().state_dict()
    source["extra.weight"] = torch.zeros(1)
    source["2.weight"] = torch.zeros(5, 4)  # wrong shape
    del source["0.bias"]
    path = tmp_path / "mismatch.pth"
    save_checkpoint({"state_dict": source}, path)
    net = _net()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(net, path, strict=True)
    message = str(info.value)
    assert "mismatch.pth" in message and "extra.weight" in message
    assert "0.bias" in message and "2.weight: checkpoint (5, 4), model (2, 4)" in message
    logger = logging.getLogger("test_checkpoint")
    with caplog.at_level(logging.WARNING, logger="test_checkpoint"):
        load_checkpoint(net, path, strict=False, logger=logger)
    assert "extra.weight" in caplog.text
    assert torch.equal(net.state_dict()["0.weight"], source["0.weight"])  # the rest loaded


def test_revise_keys_strips_prefixes(tmp_path: Path) -> None:
    net = _net()
    wrapped = OrderedDict((f"module.{k}", v) for k, v in net.state_dict().items())
    path = tmp_path / "ddp.pth"
    save_checkpoint({"state_dict": wrapped}, path)
    other = _net()
    load_checkpoint(other, path, strict=True)
    assert torch.equal(other.state_dict()["2.weight"], net.state_dict()["2.weight"])
    with pytest.raises(CheckpointError):
        load_checkpoint(_net(), path, strict=True, revise_keys=[])


def test_state_dict_helpers() -> None:
    net = _net()
    cpu = weights_to_cpu(net.state_dict())
    assert list(cpu) == list(net.state_dict()) and hasattr(cpu, "_metadata")
    assert list(get_state_dict(net)) == list(net.state_dict())
    other = _net()
    load_state_dict(other, net.state_dict(), strict=True)
    assert torch.equal(other.state_dict()["0.weight"], net.state_dict()["0.weight"])


def test_find_latest_checkpoint(tmp_path: Path) -> None:
    assert find_latest_checkpoint(tmp_path) is None
    for name in ("iter_4.pth", "iter_8.pth"):
        save_checkpoint({}, tmp_path / name)
    os.utime(tmp_path / "iter_4.pth", (1, 1))
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_8.pth")
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_4.pth"))
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_4.pth")
    # A record naming a file that is gone, or an empty one, falls back to scanning.
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_99.pth"))
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_8.pth")
    (tmp_path / "last_checkpoint").write_text("")
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_8.pth")


def test_rng_states_survive_a_weights_only_round_trip(tmp_path: Path) -> None:
    import random

    state = get_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    path = tmp_path / "rng.pth"
    save_checkpoint({"rng": state}, path)
    set_rng_state(_load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])
