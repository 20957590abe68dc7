"""Activation checkpointing: same outputs and gradients, the checkpointed forward runs again in backward."""

from __future__ import annotations

import copy
import os.path as osp

import pytest
import torch
from torch import nn

from torchrig.runner import turn_on_activation_checkpointing
from torchrig.runner.activation_checkpointing import wrap_forward


class CountingBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.calls = 0

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.calls += 1
        return torch.tanh(self.linear(x)) * scale


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = CountingBlock()
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x, scale=2.0))


def test_checkpointed_block_recomputes_in_backward_with_equal_gradients():
    torch.manual_seed(0)
    model, reference = Net(), None
    reference = copy.deepcopy(model)
    turn_on_activation_checkpointing(model, ["block"])
    x = torch.randn(3, 4)
    model(x).sum().backward()
    reference(x).sum().backward()
    assert model.block.calls == 2  # forward, then again during backward
    assert reference.block.calls == 1
    for param, ref in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(param.grad, ref.grad)


def test_a_single_name_and_a_missing_name():
    model = Net()
    turn_on_activation_checkpointing(model, "head")
    assert model.head.forward.__name__ == "forward"
    with pytest.raises(AttributeError):
        turn_on_activation_checkpointing(model, "missing")
    assert callable(wrap_forward(model.block.forward))


def test_the_runner_turns_both_on_from_the_config(tmp_path):
    from torchrig.config import Config
    from torchrig.runner import Runner

    cfg = Config.fromfile(
        osp.join(osp.dirname(__file__), "..", "..", "configs", "digits", "digits_mlp.py")
    )
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = []
    cfg.default_hooks.progress = None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=5)
    cfg.activation_checkpointing = ["net.0"]
    cfg.efficient_conv_bn_eval = ["net"]  # no conv + BN pair in a perceptron: traced, unchanged
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    finally:
        runner.visualizer.close()
    net = runner.model.net
    assert getattr(net[0].forward, "_torchrig_checkpointed", False)
    assert getattr(net, "_torchrig_efficient_conv_bn_eval", False)
