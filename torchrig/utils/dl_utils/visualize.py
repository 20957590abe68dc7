"""A fake training run that only steps the parameter schedulers, to see their curves
(MMEngine's ``mmengine.utils.dl_utils.visualize``)."""

from __future__ import annotations

import copy
from typing import Any
from unittest.mock import patch

import torch
from torch import nn

from torchrig.model import BaseModel

__all__ = ["ToyModel", "fake_run", "runtimeinfo_step", "update_params_step"]


class ToyModel(BaseModel):
    """A one-parameter model whose loss is always zero (its parameters never change)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """A zero loss that still has a gradient path to the parameters."""
        return {"loss": self.conv.weight.sum() * 0}


def update_params_step(self: Any, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
    """Stands in for ``OptimWrapper.update_params``: no backward pass, no optimizer step."""


def runtimeinfo_step(self: Any, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
    """Stands in for ``RuntimeInfoHook.before_train_iter``: records the iteration and every
    learning rate and momentum in the message hub."""
    runner.message_hub.update_info("iter", runner.iter)
    for name, values in runner.optim_wrapper.get_lr().items():
        runner.message_hub.update_scalar(f"train/{name}", values[0])
    for name, values in runner.optim_wrapper.get_momentum().items():
        runner.message_hub.update_scalar(f"train/{name}", values[0])


def fake_run(cfg: Any) -> Any:
    """Runs the config's training schedule with :class:`ToyModel`, without updating weights
    and without validation or testing, so the parameter schedulers' values can be logged.

    Args:
        cfg: A training config (its model, visualizer, validation and test parts are dropped).

    Returns:
        The runner, after training.
    """
    from torchrig.hooks import RuntimeInfoHook
    from torchrig.optim import OptimWrapper
    from torchrig.runner import Runner

    cfg = copy.deepcopy(cfg)
    for key in (
        "model",
        "visualizer",
        "val_dataloader",
        "val_evaluator",
        "val_cfg",
        "test_dataloader",
        "test_evaluator",
        "test_cfg",
    ):
        cfg.pop(key, None)
    cfg["model"] = dict(type=ToyModel)
    with (
        patch.object(OptimWrapper, "update_params", update_params_step),
        patch.object(RuntimeInfoHook, "before_train_iter", runtimeinfo_step),
    ):
        runner = Runner.from_cfg(cfg)
        runner.train()
    return runner
