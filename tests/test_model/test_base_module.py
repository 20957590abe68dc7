from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import torchrig.model.base_module as base_module
from torchrig.model import BaseModule, ModuleDict, ModuleList, Sequential


@pytest.fixture
def logs(monkeypatch):
    records: list[tuple[int, str]] = []
    monkeypatch.setattr(
        base_module, "_print_log", lambda msg, level=20: records.append((level, msg))
    )
    return records


class Leaf(BaseModule):
    def __init__(self, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.fc = nn.Linear(2, 2)


class CustomInit(nn.Module):
    """A plain module with its own init_weights."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.calls = 0

    def init_weights(self) -> None:
        self.calls += 1
        nn.init.constant_(self.fc.weight, 9.0)


class Tree(BaseModule):
    def __init__(self, init_cfg=None, leaf_cfg=None) -> None:
        super().__init__(init_cfg)
        self.leaf = Leaf(leaf_cfg)
        self.custom = CustomInit()
        self.head = nn.Linear(2, 1)


def test_init_cfg_then_children_then_is_init(logs):
    tree = Tree(
        init_cfg=dict(type="Constant", layer="Linear", val=1.0, bias=0.0),
        leaf_cfg=dict(type="Constant", layer="Linear", val=2.0),
    )
    assert not tree.is_init
    tree.init_weights()
    assert tree.is_init and tree.leaf.is_init
    assert torch.all(tree.head.weight == 1.0)
    # The child's own init_cfg and init_weights run after the parent's init_cfg, so they win.
    assert torch.all(tree.leaf.fc.weight == 2.0)
    assert torch.all(tree.custom.fc.weight == 9.0)
    assert tree.custom.calls == 1
    # The bookkeeping is removed from every sub-module afterwards.
    assert not any(hasattr(m, "_params_init_info") for m in tree.modules())


def test_init_info_logged_at_debug(logs):
    tree = Tree(init_cfg=dict(type="Constant", layer="Linear", val=1.0))
    tree.init_weights()
    debug = "\n".join(msg for level, msg in logs if level == logging.DEBUG)
    assert "head.weight - (1, 2)" in debug
    assert "ConstantInit: val=1.0, bias=0" in debug
    assert "Initialized by user-defined `init_weights` in CustomInit" in debug


def test_second_call_warns_and_changes_nothing(logs):
    leaf = Leaf(dict(type="Constant", layer="Linear", val=3.0))
    leaf.init_weights()
    nn.init.zeros_(leaf.fc.weight)
    leaf.init_weights()
    assert torch.all(leaf.fc.weight == 0.0)
    assert any(level == logging.WARNING and "more than once" in msg for level, msg in logs)


def test_pretrained_applied_after_children(tmp_path, logs):
    source = Tree()
    nn.init.constant_(source.leaf.fc.weight, 42.0)
    path = tmp_path / "tree.pth"
    torch.save(source.state_dict(), path)
    tree = Tree(
        init_cfg=[
            dict(type="Pretrained", checkpoint=str(path)),
            dict(type="Constant", layer="Linear", val=1.0),
        ],
        leaf_cfg=dict(type="Constant", layer="Linear", val=2.0),
    )
    tree.init_weights()
    # The checkpoint has the last word, over the child's init_cfg and over Constant.
    assert torch.all(tree.leaf.fc.weight == 42.0)
    assert torch.equal(tree.head.weight, source.head.weight)


def test_bookkeeping_removed_when_init_fails(logs):
    leaf = Leaf(dict(type="NoSuchInit", layer="Linear"))
    with pytest.raises(KeyError):
        leaf.init_weights()
    assert not hasattr(leaf, "_params_init_info")
    assert not leaf.is_init


def test_containers_take_init_cfg(logs):
    cfg = dict(type="Constant", layer="Linear", val=5.0)
    seq = Sequential(nn.Linear(2, 2), nn.ReLU(), init_cfg=cfg)
    mlist = ModuleList([nn.Linear(2, 2)], init_cfg=cfg)
    mdict = ModuleDict({"a": nn.Linear(2, 2)}, init_cfg=cfg)
    for container in (seq, mlist, mdict):
        container.init_weights()
        assert all(
            torch.all(m.weight == 5.0) for m in container.modules() if isinstance(m, nn.Linear)
        )
    assert seq(torch.ones(1, 2)).shape == (1, 2)
    assert len(mlist) == 1 and "a" in mdict
    assert "init_cfg=" in repr(seq)
