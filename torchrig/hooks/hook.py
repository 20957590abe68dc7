"""The base class of every hook, and the check that a hook names its stages correctly.

A hook is called by the Runner at fixed points ("stages") of a run. Which stage runs when:

======================  ==============================================================
Stage                   When
======================  ==============================================================
before_run              once, first thing in ``Runner.train/val/test``
after_load_checkpoint   after a checkpoint is read, before its weights are loaded
before_train            the train loop starts
before_train_epoch      each train epoch starts
before_train_iter       before ``model.train_step``
after_train_iter        after ``model.train_step`` (``runner.iter`` not yet advanced)
after_train_epoch       each train epoch ends (``runner.epoch`` not yet advanced)
before_val              the val loop starts
before_val_epoch        the val pass starts
before_val_iter         before ``model.val_step``
after_val_iter          after ``model.val_step``
after_val_epoch         metrics are computed (``metrics`` passed)
after_val               the val loop ends
before_save_checkpoint  the checkpoint dict is complete, before it is written
after_train             the train loop ends
before_test ...         as for val, with ``test``
after_run               once, last thing
======================  ==============================================================

Built-in hooks and their default priorities: RuntimeInfoHook (VERY_HIGH), IterTimerHook
(NORMAL), DistSamplerSeedHook (NORMAL), LoggerHook (BELOW_NORMAL), ParamSchedulerHook (LOW),
CheckpointHook (VERY_LOW), EMAHook (NORMAL), EarlyStoppingHook (LOWEST), EmptyCacheHook
(NORMAL), SyncBuffersHook (NORMAL), ProfilerHook (VERY_LOW), NaiveVisualizationHook (NORMAL).
"""

from __future__ import annotations

import difflib
from collections.abc import Sized
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["DATA_BATCH", "Hook", "check_hook_stages"]

DATA_BATCH = dict | tuple | list | None
"""What a loop hands to the iteration stages as ``data_batch``."""

_STAGES: tuple[str, ...] = (
    "before_run",
    "after_load_checkpoint",
    "before_train",
    "before_train_epoch",
    "before_train_iter",
    "after_train_iter",
    "after_train_epoch",
    "before_val",
    "before_val_epoch",
    "before_val_iter",
    "after_val_iter",
    "after_val_epoch",
    "after_val",
    "before_save_checkpoint",
    "after_train",
    "before_test",
    "before_test_epoch",
    "before_test_iter",
    "after_test_iter",
    "after_test_epoch",
    "after_test",
    "after_run",
)

# The shared helpers that a subclass may override instead of the per-mode stages.
_HELPER_STAGES: dict[str, tuple[str, ...]] = {
    "_before_epoch": ("before_train_epoch", "before_val_epoch", "before_test_epoch"),
    "_after_epoch": ("after_train_epoch", "after_val_epoch", "after_test_epoch"),
    "_before_iter": ("before_train_iter", "before_val_iter", "before_test_iter"),
    "_after_iter": ("after_train_iter", "after_val_iter", "after_test_iter"),
}


class Hook:
    """Base class of hooks: every stage is a method that does nothing.

    Subclasses override the stages they need (or ``_before_epoch``/``_after_epoch``/
    ``_before_iter``/``_after_iter`` to act in train, val and test alike, told apart by
    ``mode``). A hook that keeps state across a resume defines ``state_dict()`` and
    ``load_state_dict(state)`` returning/accepting only tensors and plain Python values.

    Attributes:
        priority: Default priority (name, number or ``Priority``) when the hook is registered
            without one.
        stages: Every stage, in the order a training run reaches them.
    """

    priority: Any = "NORMAL"
    stages: tuple[str, ...] = _STAGES

    def before_run(self, runner: Runner) -> None:
        """Called once before the run (train, val or test) starts."""

    def after_run(self, runner: Runner) -> None:
        """Called once after the run ends."""

    def before_train(self, runner: Runner) -> None:
        """Called before the train loop starts."""

    def after_train(self, runner: Runner) -> None:
        """Called after the train loop ends."""

    def before_val(self, runner: Runner) -> None:
        """Called before the val loop starts."""

    def after_val(self, runner: Runner) -> None:
        """Called after the val loop ends."""

    def before_test(self, runner: Runner) -> None:
        """Called before the test loop starts."""

    def after_test(self, runner: Runner) -> None:
        """Called after the test loop ends."""

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Called with the complete checkpoint dict before it is written; may edit it."""

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Called with a loaded checkpoint dict before its contents are applied."""

    def before_train_epoch(self, runner: Runner) -> None:
        """Called before each train epoch."""
        self._before_epoch(runner, mode="train")

    def before_val_epoch(self, runner: Runner) -> None:
        """Called before each val epoch."""
        self._before_epoch(runner, mode="val")

    def before_test_epoch(self, runner: Runner) -> None:
        """Called before each test epoch."""
        self._before_epoch(runner, mode="test")

    def after_train_epoch(self, runner: Runner) -> None:
        """Called after each train epoch."""
        self._after_epoch(runner, mode="train")

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        """Called after each val epoch with the evaluator's metrics."""
        self._after_epoch(runner, mode="val")

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        """Called after each test epoch with the evaluator's metrics."""
        self._after_epoch(runner, mode="test")

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        """Called before each train iteration."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="train")

    def before_val_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        """Called before each val iteration."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="val")

    def before_test_iter(
        self, runner: Runner, batch_idx: int, data_batch: DATA_BATCH = None
    ) -> None:
        """Called before each test iteration."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="test")

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        """Called after each train iteration with the model's outputs (the log variables)."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="train"
        )

    def after_val_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        """Called after each val iteration with the model's predictions."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="val"
        )

    def after_test_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        """Called after each test iteration with the model's predictions."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="test"
        )

    def _before_epoch(self, runner: Runner, mode: str = "train") -> None:
        """Shared body of the three ``before_*_epoch`` stages."""

    def _after_epoch(self, runner: Runner, mode: str = "train") -> None:
        """Shared body of the three ``after_*_epoch`` stages."""

    def _before_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        mode: str = "train",
    ) -> None:
        """Shared body of the three ``before_*_iter`` stages."""

    def _after_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        """Shared body of the three ``after_*_iter`` stages."""

    # Helpers for subclasses.
    def every_n_epochs(self, runner: Runner, n: int, start: int = 0) -> bool:
        """Whether the epoch ending now is one of every ``n``, counting from ``start``."""
        done = runner.epoch + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def every_n_inner_iters(self, batch_idx: int, n: int) -> bool:
        """Whether iteration ``batch_idx`` of the current epoch ends a group of ``n``."""
        return n > 0 and (batch_idx + 1) % n == 0

    def every_n_train_iters(self, runner: Runner, n: int, start: int = 0) -> bool:
        """Whether the train iteration ending now is one of every ``n``, counting from
        ``start`` (``runner.iter + 1`` iterations are complete)."""
        done = runner.iter + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def every_n_iters(self, runner: Runner, n: int, start: int = 0) -> bool:
        """Same as :meth:`every_n_train_iters`."""
        return self.every_n_train_iters(runner, n, start)

    def end_of_epoch(self, dataloader: Sized, batch_idx: int) -> bool:
        """Whether ``batch_idx`` is the last batch of ``dataloader``."""
        return batch_idx + 1 == len(dataloader)

    def is_last_train_epoch(self, runner: Runner) -> bool:
        """Whether the epoch ending now is the last one of training."""
        return runner.epoch + 1 == runner.max_epochs

    def is_last_train_iter(self, runner: Runner) -> bool:
        """Whether the iteration ending now is the last one of training."""
        return runner.iter + 1 == runner.max_iters

    def get_triggered_stages(self) -> list[str]:
        """The stages at which this hook does something (those its class overrides)."""
        cls = type(self)
        triggered = {stage for stage in _STAGES if getattr(cls, stage) is not getattr(Hook, stage)}
        for helper, stages in _HELPER_STAGES.items():
            if getattr(cls, helper) is not getattr(Hook, helper):
                triggered.update(stages)
        return [stage for stage in _STAGES if stage in triggered]


_BASE_NAMES = frozenset(dir(Hook))


def check_hook_stages(hook: Hook) -> None:
    """Reject a hook whose method name looks like a stage but is not one.

    A misspelt stage (``after_train_iterr``) would otherwise never be called, silently.

    Args:
        hook: The hook to check.

    Raises:
        TypeError: A public method's name is close to a stage's name without being one; the
            message names the hook, the method and the stage it probably meant.
    """
    for name in dir(type(hook)):
        if name.startswith("_") or name in _BASE_NAMES:
            continue
        if not callable(getattr(type(hook), name, None)):
            continue
        # A name that starts like a stage is almost surely meant as one; judge it more loosely.
        cutoff = 0.8 if name.startswith(("before_", "after_")) else 0.88
        close = difflib.get_close_matches(name, _STAGES, n=1, cutoff=cutoff)
        if close:
            raise TypeError(
                f"{type(hook).__name__} defines {name!r}, which is not a hook stage and would "
                f"never be called; did you mean {close[0]!r}? (stages: {', '.join(_STAGES)})"
            )
