"""``torchrig.testing``: the runner test case and its toy parts, used as a user would."""

from __future__ import annotations

import copy

import torch

from torchrig.registry import MODELS
from torchrig.testing import RunnerTestCase, ToyDataset, ToyMetric, ToyModel


class TestWithRunnerTestCase(RunnerTestCase):
    def test_epoch_based_cfg_trains_validates_and_tests(self) -> None:
        runner = self.build_runner(self.epoch_based_cfg)
        runner.train()
        self.assertEqual((runner.epoch, runner.iter), (2, 8))
        self.assertEqual(runner.test(), {"acc": 1})
        self.assertIs(MODELS.get("ToyModel"), ToyModel)

    def test_iter_based_cfg_saves_its_last_checkpoint(self) -> None:
        cfg = copy.deepcopy(self.iter_based_cfg)
        cfg.train_cfg.max_iters = 12
        runner = self.build_runner(cfg)
        runner.train()
        self.assertEqual(runner.iter, 12)
        checkpoint = torch.load(f"{self.temp_dir.name}/iter_12.pth", weights_only=True)
        self.assertEqual(checkpoint["meta"]["iter"], 12)

    def test_runners_get_unique_names(self) -> None:
        first = self.build_runner(copy.deepcopy(self.epoch_based_cfg))
        second = self.build_runner(copy.deepcopy(self.epoch_based_cfg))
        self.assertNotEqual(first.experiment_name, second.experiment_name)
        self.assertIsNot(first.message_hub, second.message_hub)


def test_toy_parts() -> None:
    dataset = ToyDataset()
    assert len(dataset) == 12 and set(dataset[0]) == {"inputs", "data_samples"}
    model = ToyModel()
    batch = [dataset[i] for i in range(3)]
    loss = model([b["inputs"] for b in batch], [b["data_samples"] for b in batch], mode="loss")
    assert loss["loss"].ndim == 0
    metric = ToyMetric(dummy_metrics=dict(top1=3.0))
    metric.process(None, [1])
    assert metric.compute_metrics(metric.results) == {"top1": 3.0}
