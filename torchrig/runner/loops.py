"""Training, validation and test loops (``mmengine.runner.loops``)."""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, IterableDataset

from torchrig.registry import LOOPS
from torchrig.runner._eval_padding import PaddingFilter
from torchrig.runner.amp import autocast
from torchrig.runner.base_loop import BaseLoop
from torchrig.runner.utils import calc_dynamic_intervals

if TYPE_CHECKING:
    from torchrig.evaluator import Evaluator
    from torchrig.runner.runner import Runner

__all__ = ["EpochBasedTrainLoop", "IterBasedTrainLoop", "TestLoop", "ValLoop"]


def _skippable_sampler(dataloader: DataLoader) -> tuple[Any, int]:
    """The sampler whose indices map one-to-one onto batches, and samples per batch."""
    batch_sampler = dataloader.batch_sampler
    if batch_sampler is None:
        return dataloader.sampler, 1
    if type(batch_sampler) is BatchSampler:
        return batch_sampler.sampler, batch_sampler.batch_size or 1
    return None, 0  # a custom batch sampler groups indices its own way


def _iterate_from(dataloader: DataLoader, start: int) -> Iterator[Any]:
    """An iterator over the dataloader's batches from batch ``start`` on.

    The sampler's ``skip`` jumps over the batches already trained, so their data is not
    read again; a sampler without ``skip`` falls back to reading and dropping them.
    """
    if start <= 0:
        return iter(dataloader)
    sampler, per_batch = _skippable_sampler(dataloader)
    if sampler is not None and callable(getattr(sampler, "skip", None)):
        sampler.skip(start * per_batch)
        return iter(dataloader)
    from torchrig.logging import print_log

    print_log(
        f"{type(sampler).__name__ if sampler is not None else 'The batch sampler'} cannot skip "
        f"indices; reading and dropping {start} batches to reach the resumed position",
        logger="current",
        level=logging.WARNING,
    )
    return itertools.islice(iter(dataloader), start, None)


def _share_dataset_meta(runner: Runner, dataloader: DataLoader, evaluator: Any = None) -> None:
    metainfo = getattr(dataloader.dataset, "metainfo", None)
    if metainfo is None:
        return
    if evaluator is not None:
        evaluator.dataset_meta = metainfo
    runner.visualizer.dataset_meta = metainfo


class _TrainLoop(BaseLoop):
    """What the epoch- and iteration-based loops share: counters and validation timing."""

    def __init__(
        self,
        runner: Runner,
        dataloader: DataLoader | dict,
        val_begin: int,
        val_interval: int,
        dynamic_intervals: Sequence[tuple[int, int]] | None,
    ) -> None:
        super().__init__(runner, dataloader)
        self._epoch = 0
        self._iter = 0
        self._max_epochs = 1
        self._max_iters = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False  # set by EarlyStoppingHook
        _share_dataset_meta(runner, self.dataloader)
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            val_interval, dynamic_intervals
        )

    @property
    def max_epochs(self) -> int:
        """Total training epochs."""
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        """Total training iterations."""
        return self._max_iters

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Completed iterations."""
        return self._iter

    def _decide_current_val_interval(self) -> None:
        step = bisect.bisect(self.dynamic_milestones, self._progress + 1)
        self.val_interval = self.dynamic_intervals[step - 1]

    @property
    def _progress(self) -> int:
        raise NotImplementedError

    def _should_validate(self, progress: int, end: int) -> bool:
        return (
            self.runner.val_loop is not None
            and progress >= self.val_begin
            and (progress % self.val_interval == 0 or progress == end)
        )

    def _train_step(self, batch_idx: int, data_batch: Any) -> None:
        runner = self.runner
        runner.call_hook("before_train_iter", batch_idx=batch_idx, data_batch=data_batch)
        outputs = runner.model.train_step(data_batch, optim_wrapper=runner.optim_wrapper)
        runner.call_hook(
            "after_train_iter", batch_idx=batch_idx, data_batch=data_batch, outputs=outputs
        )
        self._iter += 1


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoop):
    """Trains for a number of epochs, validating every ``val_interval`` epochs.

    Args:
        runner: The runner.
        dataloader: The training dataloader or its config.
        max_epochs: Total training epochs.
        val_begin: The first epoch after which validation runs.
        val_interval: Validate every this many epochs (and after the last).
        dynamic_intervals: ``[(epoch, interval), ...]`` changing ``val_interval`` from
            those epochs on.
    """

    def __init__(
        self,
        runner: Runner,
        dataloader: DataLoader | dict,
        max_epochs: int,
        val_begin: int = 1,
        val_interval: int = 1,
        dynamic_intervals: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals)
        if int(max_epochs) != max_epochs:
            raise ValueError(f"max_epochs must be an integer, got {max_epochs!r}")
        self._max_epochs = int(max_epochs)
        self._max_iters = self._max_epochs * len(self.dataloader)

    @property
    def _progress(self) -> int:
        return self._epoch

    def run(self) -> nn.Module:
        """Trains until ``max_epochs`` (or a hook sets ``stop_training``)."""
        self.runner.call_hook("before_train")
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if self._should_validate(self._epoch, self._max_epochs):
                self.runner.val_loop.run()
            self.runner._stop_at_boundary()
        self.runner.call_hook("after_train")
        return self.runner.model

    def run_epoch(self) -> None:
        """Trains one epoch, or its remainder after a mid-epoch resume."""
        self.runner.call_hook("before_train_epoch")
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)  # > 0 only after a resume
        start = done if 0 < done <= len(self.dataloader) else 0
        for idx, data_batch in enumerate(_iterate_from(self.dataloader, start), start):
            self.run_iter(idx, data_batch)
            self.runner._stop_at_boundary()  # a stop signal ends training here
        self.runner.call_hook("after_train_epoch")
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: Any) -> None:
        """One training iteration.

        Args:
            idx: The batch's index in the epoch.
            data_batch: The batch from the dataloader.
        """
        self._train_step(idx, data_batch)


class _InfiniteDataloaderIterator:
    """Cycles a dataloader forever; at each restart the sampler moves to the next epoch.

    Unlike MMEngine's, it does not sleep when the dataloader runs out.
    """

    def __init__(self, dataloader: DataLoader) -> None:
        self._dataloader = dataloader
        self._epoch = 0
        self._iterator: Iterator[Any] | None = None

    def __iter__(self) -> _InfiniteDataloaderIterator:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._start_pass(0)
        try:
            return next(self._iterator)
        except StopIteration:
            self._epoch += 1
            self._iterator = self._start_pass(0)
            return next(self._iterator)

    def _start_pass(self, start: int) -> Iterator[Any]:
        sampler = self._dataloader.sampler
        if (
            self._dataloader.batch_sampler is not None
            and type(self._dataloader.batch_sampler) is not BatchSampler
        ):
            sampler = getattr(self._dataloader.batch_sampler, "sampler", sampler)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(self._epoch)
        return _iterate_from(self._dataloader, start)

    def fast_forward(self, num_batches: int) -> None:
        """Positions the stream after ``num_batches`` batches (resume), without reading them.

        Args:
            num_batches: Batches already trained on.
        """
        if num_batches <= 0:
            return
        if not self._is_endless():
            self._epoch, num_batches = divmod(num_batches, len(self._dataloader))
        self._iterator = self._start_pass(num_batches)

    def _is_endless(self) -> bool:
        if isinstance(self._dataloader.dataset, IterableDataset):
            return True
        from torchrig.dataset.sampler import InfiniteSampler

        sampler, _ = _skippable_sampler(self._dataloader)
        return isinstance(sampler, InfiniteSampler)


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoop):
    """Trains for a number of iterations, validating every ``val_interval`` iterations.

    A finite dataloader is restarted (next epoch of its sampler) as soon as it runs out.

    Args:
        runner: The runner.
        dataloader: The training dataloader or its config.
        max_iters: Total training iterations.
        val_begin: The first iteration after which validation runs.
        val_interval: Validate every this many iterations (and after the last).
        dynamic_intervals: ``[(iter, interval), ...]`` changing ``val_interval``.
    """

    def __init__(
        self,
        runner: Runner,
        dataloader: DataLoader | dict,
        max_iters: int,
        val_begin: int = 1,
        val_interval: int = 1000,
        dynamic_intervals: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals)
        if int(max_iters) != max_iters:
            raise ValueError(f"max_iters must be an integer, got {max_iters!r}")
        self._max_iters = int(max_iters)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)

    @property
    def _progress(self) -> int:
        return self._iter

    def run(self) -> nn.Module:
        """Trains until ``max_iters`` (or a hook sets ``stop_training``)."""
        self.runner.call_hook("before_train")
        # For the hooks, iteration-based training is one long epoch.
        self.runner.call_hook("before_train_epoch")
        self.dataloader_iterator.fast_forward(self._iter)  # after a resume: skip, not re-read
        self.runner.model.train()
        while self._iter < self._max_iters and not self.stop_training:
            self.run_iter(next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if self._should_validate(self._iter, self._max_iters):
                self.runner.val_loop.run()
                self.runner.model.train()
            self.runner._stop_at_boundary()  # a stop signal ends training here
        self.runner.call_hook("after_train_epoch")
        self.runner.call_hook("after_train")
        return self.runner.model

    def run_iter(self, data_batch: Any) -> None:
        """One training iteration.

        Args:
            data_batch: The batch from the dataloader.
        """
        self._train_step(self._iter, data_batch)


def _take_losses(outputs: Any, losses: dict[str, list[torch.Tensor]]) -> Any:
    """Moves the losses a model's val/test step returned into ``losses``.

    A list of outputs whose last element is a data element holding only ``loss`` (a dict
    of tensors) is MMEngine's convention; a dict output's ``loss*`` entries count too.
    """
    from torchrig.structures import BaseDataElement

    loss: dict[str, Any] = {}
    if (
        isinstance(outputs, list)
        and outputs
        and isinstance(outputs[-1], BaseDataElement)
        and list(outputs[-1].keys()) == ["loss"]
    ):
        loss = outputs[-1].loss
        outputs = outputs[:-1]
    elif isinstance(outputs, dict):
        loss = {key: value for key, value in outputs.items() if key.startswith("loss")}
    for name, value in loss.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        losses.setdefault(name, []).extend(
            v.detach().float().mean() for v in values if isinstance(v, torch.Tensor)
        )
    return outputs


def _average_losses(losses: dict[str, list[torch.Tensor]], stage: str) -> dict[str, float]:
    """The mean of each loss over the batches of every rank (a rank may have none)."""
    from torchrig.dist import all_gather_object, get_world_size

    if get_world_size() == 1:
        averages = {name: torch.stack(values).mean().item() for name, values in losses.items()}
    else:
        sums: dict[str, list[float]] = {}
        for part in all_gather_object(
            {
                name: (torch.stack(values).sum().item(), len(values))
                for name, values in losses.items()
            }
        ):
            for name, (total, count) in part.items():
                entry = sums.setdefault(name, [0.0, 0])
                entry[0] += total
                entry[1] += count
        averages = {name: total / count for name, (total, count) in sums.items()}
    if averages:
        averages[f"{stage}_loss"] = sum(value for name, value in averages.items() if "loss" in name)
    return averages


class _EvaluationLoop(BaseLoop):
    _stage = "val"

    def __init__(
        self,
        runner: Runner,
        dataloader: DataLoader | dict,
        evaluator: Evaluator | dict | list,
        fp16: bool = False,
    ) -> None:
        super().__init__(runner, dataloader)
        self.evaluator: Evaluator = runner.build_evaluator(evaluator)
        self.fp16 = fp16
        self.losses: dict[str, list[torch.Tensor]] = {}
        _share_dataset_meta(runner, self.dataloader, self.evaluator)
        self._padding: PaddingFilter | None = None

    def run(self) -> dict[str, Any]:
        """Runs the model over the dataloader and returns the evaluator's metrics."""
        stage = self._stage
        self.runner.call_hook(f"before_{stage}")
        self.runner.call_hook(f"before_{stage}_epoch")
        self.runner.model.eval()
        self.losses.clear()
        self._padding = PaddingFilter(self.dataloader)
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        # the model's step returned losses: report their averages
        metrics.update(_average_losses(self.losses, stage))
        self.runner.call_hook(f"after_{stage}_epoch", metrics=metrics)
        self.runner.call_hook(f"after_{stage}")
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Any) -> None:
        """Runs one batch through the model and the evaluator.

        The samples a distributed sampler repeated to even out the ranks are left out (see
        ``PaddingFilter``), so the metrics are those of the dataset, each sample once.

        Args:
            idx: The batch's index.
            data_batch: The batch from the dataloader.
        """
        stage = self._stage
        if self._padding is not None:
            data_batch, real = self._padding.filter(idx, data_batch)
        else:
            real = True
        self.runner.call_hook(f"before_{stage}_iter", batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = getattr(self.runner.model, f"{stage}_step")(data_batch)
        if real:
            outputs = _take_losses(outputs, self.losses)
            self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            f"after_{stage}_iter", batch_idx=idx, data_batch=data_batch, outputs=outputs
        )


@LOOPS.register_module()
class ValLoop(_EvaluationLoop):
    """Validation: the model's ``val_step`` over the dataloader, then the evaluator.

    When ``val_step`` returns losses, their averages join the metrics (``loss*`` and
    ``val_loss``).

    Args:
        runner: The runner.
        dataloader: The validation dataloader or its config.
        evaluator: An ``Evaluator``, or the config of one or several metrics.
        fp16: Run the model under autocast.
    """

    _stage = "val"

    @property
    def val_loss(self) -> dict[str, list[torch.Tensor]]:
        """The losses collected in the current run (MMEngine's name)."""
        return self.losses


@LOOPS.register_module()
class TestLoop(_EvaluationLoop):
    """Testing: the model's ``test_step`` over the dataloader, then the evaluator.

    Args:
        runner: The runner.
        dataloader: The test dataloader or its config.
        evaluator: An ``Evaluator``, or the config of one or several metrics.
        fp16: Run the model under autocast.
    """

    _stage = "test"

    @property
    def test_loss(self) -> dict[str, list[torch.Tensor]]:
        """The losses collected in the current run (MMEngine's name)."""
        return self.losses
