"""A fake runner for hook tests: the Runner attributes of docs/dev/contracts.md, with a real
MessageHub, OptimWrapper and model, a save_checkpoint that writes real files, and small drivers
that call the stages in the order the loops do."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
import torch
from torch import nn

from torchrig.logging import MessageHub
from torchrig.optim import OptimWrapper

_ids = itertools.count()


class FakeRunner:
    def __init__(self, work_dir: str, *, max_epochs: int = 3, epoch_len: int = 4, hooks=()):
        self.work_dir = str(work_dir)
        self.log_dir = os.path.join(self.work_dir, "20260101_000000")
        self.timestamp = "20260101_000000"
        self.experiment_name = "exp"
        self.cfg = None
        self.seed = 0
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        self.optim_wrapper = OptimWrapper(torch.optim.SGD(self.model.parameters(), lr=0.1))
        self.param_schedulers: Any = []
        self.message_hub = MessageHub(f"hook-test-{next(_ids)}")
        self.logger = MagicMock()
        self.visualizer = MagicMock()
        self.log_processor = MagicMock()
        self.log_processor.get_log_after_iter.side_effect = lambda r, i, mode: (
            {"loss": 0.5, "lr": 0.1},
            f"{mode} {i}",
        )
        self.log_processor.get_log_after_epoch.side_effect = lambda r, n, mode, **kw: (
            {"acc": 0.9, "table": [1, 2]},
            f"{mode} epoch",
        )
        self.train_dataloader = [torch.ones(2, 2)] * epoch_len
        self.val_dataloader = [0, 1]
        self.test_dataloader = [0, 1, 2]
        self.train_loop = SimpleNamespace(
            stop_training=False, dataloader=self.train_dataloader, epoch=0
        )
        self.epoch = 0
        self.iter = 0
        self.max_epochs = max_epochs
        self.max_iters = max_epochs * epoch_len
        self.hooks = list(hooks)
        self.saved: list[str] = []
        self._resume = False

    def call_hook(self, fn_name: str, **kwargs: Any) -> None:
        for hook in self.hooks:
            getattr(hook, fn_name)(self, **kwargs)

    def hook_states(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        states = {}
        for hook in self.hooks:
            name = type(hook).__name__
            if hasattr(hook, "state_dict"):
                states[f"{name}:{counts[name]}"] = hook.state_dict()
            counts[name] += 1
        return states

    def save_checkpoint(
        self,
        out_dir,
        filename,
        file_client_args=None,
        save_optimizer=True,
        save_param_scheduler=True,
        meta=None,
        by_epoch=True,
        backend_args=None,
    ) -> None:
        checkpoint = {
            "meta": dict(meta or {}),
            "state_dict": dict(self.model.state_dict()),
            "message_hub": self.message_hub.state_dict(),
            "hook_states": self.hook_states(),
        }
        if save_optimizer:
            checkpoint["optimizer"] = self.optim_wrapper.state_dict()
        self.call_hook("before_save_checkpoint", checkpoint=checkpoint)
        os.makedirs(out_dir, exist_ok=True)
        torch.save(checkpoint, os.path.join(out_dir, filename))
        self.saved.append(filename)


def train_by_epoch(runner: FakeRunner, val_metrics=None, loss=1.0) -> None:
    """EpochBasedTrainLoop's order of stages; validation after each epoch with the next
    dict of ``val_metrics``."""
    metrics_iter = iter(val_metrics or [])
    runner.call_hook("before_train")
    while runner.epoch < runner.max_epochs and not runner.train_loop.stop_training:
        runner.train_loop.epoch = runner.epoch
        runner.call_hook("before_train_epoch")
        for idx, batch in enumerate(runner.train_dataloader):
            runner.call_hook("before_train_iter", batch_idx=idx, data_batch=batch)
            outputs = {"loss": torch.tensor(loss)}
            runner.call_hook("after_train_iter", batch_idx=idx, data_batch=batch, outputs=outputs)
            runner.iter += 1
        runner.call_hook("after_train_epoch")
        runner.epoch += 1
        metrics = next(metrics_iter, None)
        if metrics is not None:
            validate(runner, metrics)
    runner.call_hook("after_train")


def train_by_iter(runner: FakeRunner, val_interval=0, val_metrics=None) -> None:
    """IterBasedTrainLoop's order of stages (``batch_idx`` is the global iteration)."""
    metrics_iter = iter(val_metrics or [])
    runner.call_hook("before_train")
    runner.call_hook("before_train_epoch")
    while runner.iter < runner.max_iters and not runner.train_loop.stop_training:
        batch = runner.train_dataloader[0]
        idx = runner.iter
        runner.call_hook("before_train_iter", batch_idx=idx, data_batch=batch)
        outputs = {"loss": torch.tensor(1.0)}
        runner.call_hook("after_train_iter", batch_idx=idx, data_batch=batch, outputs=outputs)
        runner.iter += 1
        if val_interval and runner.iter % val_interval == 0:
            metrics = next(metrics_iter, None)
            if metrics is not None:
                validate(runner, metrics)
    runner.call_hook("after_train_epoch")
    runner.call_hook("after_train")


def validate(runner: FakeRunner, metrics: dict, mode: str = "val") -> None:
    runner.call_hook(f"before_{mode}")
    runner.call_hook(f"before_{mode}_epoch")
    dataloader = runner.val_dataloader if mode == "val" else runner.test_dataloader
    for idx, batch in enumerate(dataloader):
        runner.call_hook(f"before_{mode}_iter", batch_idx=idx, data_batch=batch)
        runner.call_hook(f"after_{mode}_iter", batch_idx=idx, data_batch=batch, outputs=[])
    runner.call_hook(f"after_{mode}_epoch", metrics=metrics)
    runner.call_hook(f"after_{mode}")


@pytest.fixture
def make_runner(tmp_path):
    def factory(**kwargs: Any) -> FakeRunner:
        return FakeRunner(str(tmp_path / "work"), **kwargs)

    return factory


@pytest.fixture
def loops():
    return SimpleNamespace(
        train_by_epoch=train_by_epoch, train_by_iter=train_by_iter, validate=validate
    )
