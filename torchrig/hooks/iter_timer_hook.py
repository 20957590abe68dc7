"""IterTimerHook: measures iteration and data-loading time and estimates the time left."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["IterTimerHook"]


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Records ``<mode>/data_time`` and ``<mode>/time`` (seconds) in the message hub.

    ``data_time`` is the time from the end of the previous iteration (or the start of the
    epoch) to the start of this one, i.e. waiting for the data; ``time`` is the whole
    iteration. The runtime info ``eta`` holds the estimated seconds left: of training (from the
    average train iteration since this run started) or of the current val/test pass.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        self.time_sec_tot = 0.0
        self.time_sec_test_val = 0.0
        self.start_iter = 0
        self._max_iters: int | None = None  # the train loop's, read once before training
        self._t = time.perf_counter()

    def before_train(self, runner: Runner) -> None:
        self.time_sec_tot = 0.0
        self.start_iter = runner.iter
        self._max_iters = runner.max_iters

    def _before_epoch(self, runner: Runner, mode: str = "train") -> None:
        self._t = time.perf_counter()

    def _after_epoch(self, runner: Runner, mode: str = "train") -> None:
        if mode != "train":
            self.time_sec_test_val = 0.0

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        if type(self)._before_iter is not IterTimerHook._before_iter:  # a subclass's own
            self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="train")
            return
        runner.message_hub.update_scalar("train/data_time", time.perf_counter() - self._t)

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        if type(self)._after_iter is not IterTimerHook._after_iter:  # a subclass's own
            self._after_iter(
                runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="train"
            )
            return
        now = time.perf_counter()
        iter_time = now - self._t
        self._t = now
        hub = runner.message_hub
        hub.update_scalar("train/time", iter_time)
        self.time_sec_tot += iter_time
        done_iters = runner.iter
        done = done_iters - self.start_iter + 1
        max_iters = self._max_iters
        left = (runner.max_iters if max_iters is None else max_iters) - done_iters - 1
        hub.update_info("eta", self.time_sec_tot / done * left)

    def _before_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        mode: str = "train",
    ) -> None:
        runner.message_hub.update_scalar(f"{mode}/data_time", time.perf_counter() - self._t)

    def _after_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        now = time.perf_counter()
        iter_time = now - self._t
        self._t = now
        hub = runner.message_hub
        hub.update_scalar(f"{mode}/time", iter_time)
        if mode == "train":
            self.time_sec_tot += iter_time
            done = runner.iter - self.start_iter + 1
            left = runner.max_iters - runner.iter - 1
            hub.update_info("eta", self.time_sec_tot / done * left)
        else:
            dataloader = runner.val_dataloader if mode == "val" else runner.test_dataloader
            self.time_sec_test_val += iter_time
            try:
                left = len(dataloader) - batch_idx - 1
            except TypeError:  # no length: no estimate
                return
            hub.update_info("eta", self.time_sec_test_val / (batch_idx + 1) * left)
