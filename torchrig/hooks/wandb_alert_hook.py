"""WandbAlertHook: W&B alerts (Slack, email) when the loss turns NaN/inf, on failure, at the end."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["WandbAlertHook"]


def _number(value: Any) -> float | None:
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return None


@HOOKS.register_module()
class WandbAlertHook(Hook):
    """Sends W&B alerts (``Run.alert``: the W&B app, Slack or email, as the user's W&B
    settings route them) when a loss becomes NaN or infinite, when training fails with an
    exception, and when it finishes. Each alert says the iteration, the epoch and the last
    metrics (the last logged loss values and validation metrics).

    Alerts go to the run of the visualizer's :class:`~torchrig.visualization.WandbVisBackend`
    or, without one, to the active W&B run (``wandb.run``); with neither, the hook says so
    once and sends nothing. Only rank 0 sends.

    Config: ``custom_hooks = [dict(type='WandbAlertHook')]``.

    Args:
        on_nan: Alert (level ``ERROR``) the first time a loss is NaN or infinite, and again
            only after it was finite in between.
        on_exception: Alert (level ``ERROR``) when training fails.
        on_finish: Alert (level ``INFO``) when training ends normally.
        interval: Check the losses every this many iterations (reading a loss on a GPU waits
            for the device).
        backend: The name of the W&B backend in the visualizer.
        wait_duration: Seconds W&B waits before sending another alert with the same title
            (None: W&B's default, a minute).
    """

    priority = "BELOW_NORMAL"

    def __init__(
        self,
        on_nan: bool = True,
        on_exception: bool = True,
        on_finish: bool = True,
        interval: int = 1,
        backend: str = "WandbVisBackend",
        wait_duration: float | None = None,
    ) -> None:
        if interval < 1:
            raise ValueError(f"WandbAlertHook: interval must be >= 1, got {interval}")
        self.alert_on_nan = on_nan
        self.alert_on_exception = on_exception
        self.alert_on_finish = on_finish
        self.interval = interval
        self.backend = backend
        self.wait_duration = wait_duration
        self._in_nan = False
        self._last: dict[str, float] = {}
        self._told_no_run = False

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Mapping[str, Any] | None = None,
    ) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        bad = []
        for key, value in outputs.items():
            if "loss" not in key:
                continue
            number = _number(value)
            if number is None:
                continue
            self._last[key] = number
            if not math.isfinite(number):
                bad.append(f"{key}={number}")
        if bad and self.alert_on_nan and not self._in_nan:
            self._alert(
                runner,
                "Loss is NaN or infinite",
                f"{', '.join(bad)} at iteration {runner.iter + 1}",
                "ERROR",
            )
        self._in_nan = bool(bad)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        for key, value in (metrics or {}).items():
            number = _number(value)
            if number is not None:
                self._last[key] = number

    def after_train(self, runner: Runner) -> None:
        if self.alert_on_finish:
            self._alert(runner, "Training finished", f"at iteration {runner.iter}", "INFO")

    def on_exception(self, runner: Runner, exception: BaseException | None = None) -> None:
        """Called by the Runner when a run fails, before the trackers are closed."""
        if not self.alert_on_exception or isinstance(exception, KeyboardInterrupt):
            return
        what = f"{type(exception).__name__}: {exception}" if exception is not None else "an error"
        self._alert(runner, "Training failed", f"{what} at iteration {runner.iter}", "ERROR")

    def _alert(self, runner: Runner, title: str, text: str, level: str) -> None:
        from torchrig.dist import is_main_process

        if not is_main_process():
            return
        run = self._run(runner)
        if run is None:
            return
        name = getattr(runner, "experiment_name", "")
        last = ", ".join(f"{k}={v:.6g}" for k, v in sorted(self._last.items()))
        body = f"{name}: {text} (epoch {runner.epoch})." + (
            f" Last values: {last}." if last else ""
        )
        try:
            run.alert(title=title, text=body, level=level, wait_duration=self.wait_duration)
        except Exception as err:  # noqa: BLE001 - an alert must never stop training
            runner.logger.warning(f"WandbAlertHook: the alert {title!r} was not sent: {err!r}")

    def _run(self, runner: Runner) -> Any:
        from torchrig.visualization import WandbVisBackend

        backend = runner.visualizer.get_backend(self.backend)
        if isinstance(backend, WandbVisBackend):
            return backend.experiment
        wandb = sys.modules.get("wandb")
        if getattr(wandb, "run", None) is not None:
            return wandb.run
        if not self._told_no_run:
            self._told_no_run = True
            runner.logger.warning(
                f"WandbAlertHook: no W&B run to alert (no {self.backend!r} backend in the "
                "visualizer and no active wandb.run); alerts are not sent"
            )
        return None
