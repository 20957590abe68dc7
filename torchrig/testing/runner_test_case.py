"""A runner test case and toy parts for users' own tests (``mmengine.testing``).

``RunnerTestCase`` builds runners from small configs over :class:`ToyModel`,
:class:`ToyDataset` and :class:`ToyMetric` in a temporary work directory.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any
from unittest import TestCase

import torch
from torch import nn
from torch.utils.data import Dataset

from torchrig.config import Config
from torchrig.evaluator import BaseMetric
from torchrig.model import BaseModel
from torchrig.registry import DATASETS, METRICS, MODELS

__all__ = ["RunnerTestCase", "ToyDataset", "ToyMetric", "ToyModel"]


class ToyModel(BaseModel):
    """Two linear layers mapping 2 features to 1; the loss is the mean squared error.

    Args:
        data_preprocessor: See ``BaseModel``.
    """

    def __init__(self, data_preprocessor: dict | nn.Module | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.linear1 = nn.Linear(2, 2)
        self.linear2 = nn.Linear(2, 1)

    def forward(
        self, inputs: Any, data_samples: Any = None, mode: str = "tensor"
    ) -> torch.Tensor | dict[str, torch.Tensor] | list[torch.Tensor]:
        """``mode='loss'`` returns ``dict(loss=...)``, ``'predict'``/``'tensor'`` the outputs."""
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        outputs = self.linear2(self.linear1(inputs))
        if mode == "loss":
            if isinstance(data_samples, (list, tuple)):
                data_samples = torch.stack(list(data_samples))
            return dict(loss=((outputs.squeeze(-1) - data_samples) ** 2).mean())
        if mode == "predict":
            return list(outputs)
        return outputs


class ToyDataset(Dataset):
    """Twelve fixed samples ``dict(inputs=<2 floats>, data_samples=<1.0>)``.

    The data come from their own generator, so importing this module leaves the global
    random state alone.
    """

    METAINFO: dict[str, Any] = dict()
    data = torch.randn(12, 2, generator=torch.Generator().manual_seed(0))
    label = torch.ones(12)

    @property
    def metainfo(self) -> dict[str, Any]:
        """The dataset's meta information (empty)."""
        return self.METAINFO

    def __len__(self) -> int:
        return self.data.size(0)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return dict(inputs=self.data[index], data_samples=self.label[index])


class ToyMetric(BaseMetric):
    """Reports ``acc=1`` (or ``dummy_metrics``) whatever the predictions.

    Args:
        collect_device: Where results are gathered across processes.
        dummy_metrics: The metrics to report instead of ``dict(acc=1)``.
    """

    def __init__(self, collect_device: str = "cpu", dummy_metrics: dict | None = None) -> None:
        super().__init__(collect_device=collect_device)
        self.dummy_metrics = dummy_metrics

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keeps one result per batch."""
        self.results.append({"acc": 1})

    def compute_metrics(self, results: list) -> dict[str, Any]:
        """The fixed metrics."""
        return dict(self.dummy_metrics) if self.dummy_metrics else dict(acc=1)


def _loader(sampler: str, shuffle: bool) -> dict[str, Any]:
    return dict(
        dataset=dict(type="ToyDataset"),
        sampler=dict(type=sampler, shuffle=shuffle),
        batch_size=3,
        num_workers=0,
    )


class RunnerTestCase(TestCase):
    """A ``unittest`` case with epoch- and iteration-based runner configs ready to use.

    ``self.epoch_based_cfg`` trains :class:`ToyModel` for 2 epochs of 4 iterations with
    validation each epoch; ``self.iter_based_cfg`` trains 12 iterations validating every
    4. ``build_runner(cfg)`` gives each runner a unique experiment name.
    """

    dist_env: dict[str, Any] = dict(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=29600, RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"
    )

    def setUp(self) -> None:
        self.temp_dir = tempfile.TemporaryDirectory()
        MODELS.register_module(module=ToyModel, force=True)
        METRICS.register_module(module=ToyMetric, force=True)
        DATASETS.register_module(module=ToyDataset, force=True)
        self.epoch_based_cfg = Config(
            dict(
                work_dir=self.temp_dir.name,
                model=dict(type="ToyModel"),
                train_dataloader=_loader("DefaultSampler", True),
                val_dataloader=_loader("DefaultSampler", False),
                val_evaluator=[dict(type="ToyMetric")],
                test_dataloader=_loader("DefaultSampler", False),
                test_evaluator=[dict(type="ToyMetric")],
                optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
                train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
                val_cfg=dict(),
                test_cfg=dict(),
                default_hooks=dict(logger=dict(type="LoggerHook", interval=1)),
                custom_hooks=[],
                env_cfg=dict(dist_cfg=dict(backend="nccl")),
                experiment_name="test1",
            )
        )
        self.iter_based_cfg: Config = copy.deepcopy(self.epoch_based_cfg)
        self.iter_based_cfg.train_dataloader = _loader("InfiniteSampler", True)
        self.iter_based_cfg.log_processor = dict(by_epoch=False)
        self.iter_based_cfg.train_cfg = dict(by_epoch=False, max_iters=12, val_interval=4)
        self.iter_based_cfg.default_hooks = dict(
            logger=dict(type="LoggerHook", interval=1),
            checkpoint=dict(type="CheckpointHook", interval=12, by_epoch=False),
        )

    def tearDown(self) -> None:
        from torchrig.logging import MessageHub, MMLogger
        from torchrig.registry import DefaultScope
        from torchrig.visualization import Visualizer

        for visualizer in list(Visualizer._instance_dict.values()):
            visualizer.close()
        logging.shutdown()
        for manager in (MMLogger, Visualizer, DefaultScope, MessageHub):
            manager._instance_dict.clear()
        MODELS.module_dict.pop("ToyModel", None)
        METRICS.module_dict.pop("ToyMetric", None)
        DATASETS.module_dict.pop("ToyDataset", None)
        self.temp_dir.cleanup()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    @property
    def experiment_name(self) -> str:
        """A name no other runner of this process has."""
        return f"{self._testMethodName}_{time.time()}_{uuid.uuid4().hex[:8]}"

    def build_runner(self, cfg: Config) -> Any:
        """Builds a Runner from ``cfg`` under a unique experiment name."""
        from torchrig.runner import Runner

        cfg.experiment_name = self.experiment_name
        return Runner.from_cfg(cfg)

    def setup_dist_env(self) -> None:
        """Sets the environment variables of a one-process distributed group."""
        self.dist_env["MASTER_PORT"] += 1
        for key, value in self.dist_env.items():
            os.environ[key] = str(value)

    def clear_work_dir(self) -> None:
        """Empties the work directory."""
        logging.shutdown()
        for name in os.listdir(self.temp_dir.name):
            path = os.path.join(self.temp_dir.name, name)
            if os.path.isfile(path):
                os.remove(path)
            else:
                shutil.rmtree(path)
