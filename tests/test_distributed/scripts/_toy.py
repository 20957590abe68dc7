"""Toy parts shared by the distributed worker scripts (a regression model, data and a metric)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from torchrig.evaluator import BaseMetric
from torchrig.hooks import Hook
from torchrig.model import BaseModel

__all__ = [
    "RecordMetrics",
    "ToyMSE",
    "ToyRegression",
    "ToyRegressor",
    "loader",
    "runner_kwargs",
    "train_val_kwargs",
]


class ToyRegressor(BaseModel):
    """Two layers (each an FSDP unit under the ``'Linear'`` policy) fitting ``y = sum(x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(
        self, inputs: Any, targets: Any = None, index: Any = None, mode: str = "tensor"
    ) -> Any:
        outputs = self.net(inputs).sum(dim=-1)  # not a view (FSDP warns about views)
        if mode == "loss":
            return dict(loss=((outputs.float() - targets) ** 2).mean())
        if mode == "predict":
            return [
                dict(index=int(i), pred=float(p), target=float(t))
                for i, p, t in zip(index, outputs.detach(), targets)
            ]
        return outputs


class ToyRegression(Dataset):
    """``size`` fixed samples ``dict(inputs, targets, index)`` from their own generator."""

    def __init__(self, size: int = 16) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(size, 4, generator=generator)
        self.y = self.x.sum(dim=1)

    @property
    def metainfo(self) -> dict[str, Any]:
        return {}

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return dict(inputs=self.x[index], targets=self.y[index], index=index)


class ToyMSE(BaseMetric):
    """Mean squared error, the number of samples and the sum of their indices."""

    default_prefix = "toy"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((sample["index"], (sample["pred"] - sample["target"]) ** 2))

    def compute_metrics(self, results: list) -> dict[str, Any]:
        return dict(
            mse=sum(error for _, error in results) / len(results),
            count=len(results),
            index_sum=sum(index for index, _ in results),
        )


def loader(size: int, batch_size: int, shuffle: bool) -> dict[str, Any]:
    """A dataloader config over :class:`ToyRegression` with ``DefaultSampler``."""
    return dict(
        dataset=ToyRegression(size),
        sampler=dict(type="DefaultSampler", shuffle=shuffle, seed=3),
        batch_size=batch_size,
        num_workers=0,
        collate_fn=dict(type="default_collate"),
    )


def runner_kwargs(work_dir: str, launcher: str, batch_size: int, max_iters: int) -> dict[str, Any]:
    """Runner arguments for ``max_iters`` SGD iterations (an update every 2) without
    validation or checkpoints.

    The model is built here under a fixed seed, so every process starts from the same weights.
    """
    torch.manual_seed(0)
    return dict(
        model=ToyRegressor(),
        work_dir=work_dir,
        train_dataloader=loader(16, batch_size, shuffle=True),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=10_000),
        # Clipping and accumulation: their distributed paths (no_sync, DTensor norms) run too.
        optim_wrapper=dict(
            optimizer=dict(type="SGD", lr=0.05, momentum=0.9),
            clip_grad=dict(max_norm=1.0),
            accumulative_counts=2,
        ),
        launcher=launcher,
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
        randomness=dict(seed=7),
        default_hooks=dict(checkpoint=None, logger=dict(type="LoggerHook", interval=1)),
    )


class RecordMetrics(Hook):
    """Keeps the metrics of the last validation (the same on every rank)."""

    def __init__(self) -> None:
        self.metrics: dict[str, Any] = {}

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        self.metrics = dict(metrics or {})


def train_val_kwargs(
    work_dir: str, launcher: str, batch_size: int, max_iters: int
) -> dict[str, Any]:
    """:func:`runner_kwargs` plus one validation at the end, over 13 samples in batches of 2
    per process (so the last batch is uneven), recorded by a :class:`RecordMetrics` hook."""
    kwargs = runner_kwargs(work_dir, launcher, batch_size, max_iters)
    kwargs["train_cfg"] = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
    kwargs.update(
        val_dataloader=loader(13, 2, shuffle=False),
        val_cfg=dict(),
        val_evaluator=dict(type=ToyMSE),
        custom_hooks=[RecordMetrics()],
    )
    return kwargs
