"""Loops: validation timing, restarts without pauses, early stop, validation loss, skipping."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from torchrig.hooks import Hook
from torchrig.registry import DATASETS, METRICS, MODELS
from torchrig.runner import Runner
from torchrig.runner.loops import _InfiniteDataloaderIterator, _iterate_from
from torchrig.structures import BaseDataElement
from torchrig.testing import ToyDataset, ToyMetric, ToyModel


class LossyToyModel(ToyModel):
    """Returns its loss from ``val_step``/``test_step`` the way MMEngine 0.10.5 expects."""

    def val_step(self, data: Any) -> list:
        data = self.data_preprocessor(data, False)
        outputs = self(**data, mode="predict")
        loss = self(**data, mode="loss")["loss"]
        return outputs + [BaseDataElement(loss=dict(loss=loss, loss_aux=loss * 2))]

    test_step = val_step


@pytest.fixture(autouse=True)
def _toys():
    MODELS.register_module(module=ToyModel, force=True)
    METRICS.register_module(module=ToyMetric, force=True)
    DATASETS.register_module(module=ToyDataset, force=True)
    yield
    for registry, name in ((MODELS, "ToyModel"), (METRICS, "ToyMetric"), (DATASETS, "ToyDataset")):
        registry.module_dict.pop(name, None)


def _loader(shuffle: bool = False) -> dict:
    return dict(
        dataset=dict(type="ToyDataset"),
        sampler=dict(type="DefaultSampler", shuffle=shuffle),
        batch_size=3,
    )


def _runner(work_dir: Path, **overrides: Any) -> Runner:
    cfg = dict(
        model=dict(type="ToyModel"),
        work_dir=str(work_dir),
        train_dataloader=_loader(True),
        val_dataloader=_loader(),
        val_evaluator=dict(type="ToyMetric"),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        default_hooks=dict(checkpoint=None),
        log_level="WARNING",
        randomness=dict(seed=1),
    )
    cfg.update(overrides)
    return Runner(**cfg)


class _ValCounter(Hook):
    def __init__(self) -> None:
        self.at: list[int] = []

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.at.append(runner.iter)


def test_epoch_loop_validates_on_interval_from_val_begin(tmp_path: Path) -> None:
    counter = _ValCounter()
    train_cfg = dict(by_epoch=True, max_epochs=5, val_begin=2, val_interval=2)
    _runner(tmp_path, train_cfg=train_cfg, custom_hooks=[counter]).train()
    assert counter.at == [8, 16, 20]  # after epochs 2, 4 and the last


def test_dynamic_intervals_change_the_val_interval(tmp_path: Path) -> None:
    counter = _ValCounter()
    train_cfg = dict(by_epoch=False, max_iters=12, val_interval=6, dynamic_intervals=[(7, 2)])
    _runner(tmp_path, train_cfg=train_cfg, custom_hooks=[counter]).train()
    assert counter.at == [6, 8, 10, 12]


def test_iteration_loop_restarts_a_finite_loader_without_pausing(tmp_path, monkeypatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError("the loop paused")

    monkeypatch.setattr(time, "sleep", no_sleep)
    runner = _runner(tmp_path, train_cfg=dict(by_epoch=False, max_iters=10, val_interval=100))
    runner.train()
    assert runner.iter == 10
    # 4 batches per pass: the sampler is on its third pass (epoch 2).
    assert runner.train_loop.dataloader.sampler.epoch == 2


def test_stop_training_ends_the_epoch_loop(tmp_path: Path) -> None:
    class Stop(Hook):
        def after_train_epoch(self, runner) -> None:
            runner.train_loop.stop_training = True

    runner = _runner(tmp_path, custom_hooks=[Stop()])
    runner.train()
    assert runner.epoch == 1


def test_a_loop_subclass_run_iter_and_an_instance_call_hook_see_every_iteration(
    tmp_path: Path,
) -> None:
    from torchrig.registry import LOOPS
    from torchrig.runner.loops import EpochBasedTrainLoop

    seen: list[tuple[str, int]] = []

    class CountingLoop(EpochBasedTrainLoop):
        def run_iter(self, idx: int, data_batch: Any) -> None:
            seen.append(("run_iter", idx))
            super().run_iter(idx, data_batch)

    LOOPS.register_module(module=CountingLoop, force=True)
    try:
        train_cfg = dict(type="CountingLoop", max_epochs=2)
        runner = _runner(
            tmp_path, train_cfg=train_cfg, val_cfg=None, val_dataloader=None, val_evaluator=None
        )
        own = runner.call_hook

        def call_hook(fn_name: str, **kwargs: Any) -> None:
            if fn_name.endswith("_train_iter"):
                seen.append((fn_name, kwargs["batch_idx"]))
            own(fn_name, **kwargs)

        runner.call_hook = call_hook  # type: ignore[method-assign]
        runner.train()
    finally:
        LOOPS.module_dict.pop("CountingLoop", None)
    per_iteration = [
        [("run_iter", i), ("before_train_iter", i), ("after_train_iter", i)] for i in range(4)
    ]
    assert seen == [step for row in per_iteration * 2 for step in row]  # 4 batches, 2 epochs
    assert runner.iter == 8


def test_validation_loss_joins_the_metrics(tmp_path: Path) -> None:
    runner = _runner(tmp_path, model=LossyToyModel())
    metrics = runner.val()
    assert metrics["acc"] == 1
    assert metrics["loss_aux"] == pytest.approx(2 * metrics["loss"])
    assert metrics["val_loss"] == pytest.approx(3 * metrics["loss"])
    assert runner.message_hub.get_scalar("val/val_loss").current() == pytest.approx(
        metrics["val_loss"]
    )


class _Recording(torch.utils.data.Sampler):
    """A sampler without ``skip``: the loop falls back to reading and dropping batches."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read: list[int] = []

    def __iter__(self):
        for index in range(self.size):
            self.read.append(index)
            yield index

    def __len__(self) -> int:
        return self.size


def test_iterate_from_skips_through_the_sampler_or_drops_batches() -> None:
    from torchrig.dataset.sampler import DefaultSampler

    dataset = list(range(10))
    sampler = DefaultSampler(dataset, shuffle=False, seed=0)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    assert [batch.tolist() for batch in _iterate_from(loader, 3)] == [[6, 7], [8, 9]]
    assert len(list(_iterate_from(loader, 0))) == 5  # the skip applied to one pass only
    plain = _Recording(10)
    loader = DataLoader(dataset, batch_size=2, sampler=plain)
    assert [batch.tolist() for batch in _iterate_from(loader, 3)] == [[6, 7], [8, 9]]
    assert plain.read == list(range(10))


def test_infinite_iterator_fast_forwards_across_epochs() -> None:
    from torchrig.dataset.sampler import DefaultSampler, InfiniteSampler

    dataset = list(range(6))
    loader = DataLoader(dataset, batch_size=2, sampler=DefaultSampler(dataset, seed=0))
    reference = _InfiniteDataloaderIterator(loader)
    expected = [next(reference).tolist() for _ in range(8)]
    resumed = _InfiniteDataloaderIterator(loader)
    resumed.fast_forward(4)  # one whole pass of 3 batches, plus one
    assert [next(resumed).tolist() for _ in range(4)] == expected[4:]
    loader = DataLoader(dataset, batch_size=2, sampler=InfiniteSampler(dataset, seed=0))
    reference = _InfiniteDataloaderIterator(loader)
    expected = [next(reference).tolist() for _ in range(8)]
    resumed = _InfiniteDataloaderIterator(loader)
    resumed.fast_forward(5)
    assert [next(resumed).tolist() for _ in range(3)] == expected[5:]
