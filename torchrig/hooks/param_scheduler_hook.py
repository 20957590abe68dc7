"""ParamSchedulerHook: steps the parameter schedulers at the end of iterations and epochs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["ParamSchedulerHook"]


def _schedulers(runner: Runner) -> Iterator[Any]:
    """Every scheduler of ``runner.param_schedulers`` (a list, or a dict of lists)."""
    schedulers = runner.param_schedulers
    if schedulers is None:
        return
    groups = schedulers.values() if isinstance(schedulers, dict) else [schedulers]
    for group in groups:
        if not isinstance(group, (list, tuple)):
            raise TypeError(
                "runner.param_schedulers must be a list of schedulers or a dict of such lists "
                f"(one per optimizer wrapper), got {type(group).__name__} in it"
            )
        yield from group


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Steps ``runner.param_schedulers``.

    Iteration-based schedulers (``by_epoch=False``) step after every train iteration,
    epoch-based ones after every train epoch. Schedulers that need the validation metrics
    (``need_val_args = True``, e.g. ``ReduceOnPlateau*``) are also stepped with the metrics
    after every validation.
    """

    priority = "LOW"

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if not runner.param_schedulers:  # nothing to step (the common case without any)
            return
        self._step(runner, lambda scheduler: not scheduler.by_epoch)

    def after_train_epoch(self, runner: Runner) -> None:
        self._step(runner, lambda scheduler: scheduler.by_epoch)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        if metrics is None:
            return
        for scheduler in _schedulers(runner):
            if getattr(scheduler, "need_val_args", False):
                scheduler.step(metrics)

    @staticmethod
    def _step(runner: Runner, wanted: Callable[[Any], bool]) -> None:
        for scheduler in _schedulers(runner):
            if wanted(scheduler):
                scheduler.step()
