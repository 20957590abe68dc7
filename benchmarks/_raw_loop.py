"""The raw PyTorch side of ``bench_engine.py``: the same models, data and work, no engine.

Each function trains with a plain loop: a DataLoader with ``default_collate``, forward,
cross-entropy, backward, optimizer step, and (tiny model) a logged line every 50
iterations. The engine side uses the same datasets and modules.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = ["CNN", "MLP", "Digits", "RandomImages", "RawTrainer", "now", "raw_train"]

LOG_INTERVAL = 50


def now() -> tuple[float, float]:
    """Wall-clock and process CPU time (all threads), in seconds."""
    return time.perf_counter(), time.process_time()


class Digits(Dataset):
    """The training 80% of scikit-learn's digits: ``dict(inputs=<64 floats>, data_samples=<label>)``."""

    def __init__(self) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        inputs = torch.tensor(digits.data / 16.0, dtype=torch.float32)
        labels = torch.tensor(digits.target, dtype=torch.long)
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(0))
        keep = order[: int(len(order) * 0.8)]
        self.inputs, self.labels = inputs[keep], labels[keep]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return dict(inputs=self.inputs[index], data_samples=self.labels[index])


class RandomImages(Dataset):
    """Fixed random 3x32x32 images with 10 classes."""

    def __init__(self, size: int = 512) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(size, 3, 32, 32, generator=generator)
        self.labels = torch.randint(0, 10, (size,), generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return dict(inputs=self.inputs[index], data_samples=self.labels[index])


def MLP() -> nn.Module:  # noqa: N802 - a module factory
    """64-128-10."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def CNN() -> nn.Module:  # noqa: N802 - a module factory
    """A small compute-bound convolutional network for 3x32x32 inputs."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def raw_train(
    net: nn.Module, dataset: Dataset, batch_size: int, max_epochs: int, marks: dict[str, Any]
) -> None:
    """Trains ``net`` for ``max_epochs``; records ``first_iter`` and ``epoch_<n>`` times.

    Args:
        net: The model.
        dataset: The data.
        batch_size: Batch size.
        max_epochs: Epochs to train.
        marks: Filled with ``(time.perf_counter(), time.process_time())`` at the end of the
            first iteration, at the start of every epoch, and at the end (``end``).
    """
    trainer = RawTrainer(net, dataset, batch_size)
    for epoch in range(max_epochs):
        marks[f"epoch_{epoch}"] = now()
        trainer.epoch(epoch, marks)
    marks["end"] = now()


class RawTrainer:
    """The raw loop's state (loader, optimizer, step count), one epoch at a time.

    Args:
        net: The model.
        dataset: The data.
        batch_size: Batch size.
    """

    def __init__(self, net: nn.Module, dataset: Dataset, batch_size: int) -> None:
        self.net = net
        self.loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
        )
        self.optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        self.logger = logging.getLogger("raw")
        self.step = 0
        net.train()

    def epoch(self, epoch: int, marks: dict[str, Any]) -> None:
        """Trains one epoch; records ``first_iter`` in ``marks`` after the first iteration."""
        net, optimizer, logger, step = self.net, self.optimizer, self.logger, self.step
        for batch in self.loader:
            loss = F.cross_entropy(net(batch["inputs"]), batch["data_samples"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step == 1:
                marks["first_iter"] = now()
            if step % LOG_INTERVAL == 0:
                logger.info(f"Epoch [{epoch + 1}] iter {step}  loss: {loss.item():.4f}")
        self.step = step
