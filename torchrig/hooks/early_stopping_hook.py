"""EarlyStoppingHook: stops training when a validation metric stops improving."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from torchrig.hooks._rules import DEFAULT_GREATER_KEYS, DEFAULT_LESS_KEYS, RULE_MAP, infer_rule
from torchrig.hooks.hook import Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["EarlyStoppingHook"]


@HOOKS.register_module()
class EarlyStoppingHook(Hook):
    """Sets ``runner.train_loop.stop_training = True`` when ``monitor`` stops improving.

    Args:
        monitor: The metric to watch, as the evaluator names it (e.g. ``'acc/top1'``).
        rule: ``'greater'`` or ``'less'``; None infers it from the name (as CheckpointHook).
        min_delta: The least change that counts as an improvement.
        strict: Raise if ``monitor`` is missing from the metrics (else warn and skip).
        check_finite: Stop when the metric is NaN or infinite.
        patience: Stop after this many evaluations without improvement.
        stopping_threshold: Stop as soon as the metric is better than this.
    """

    priority = "LOWEST"

    rule_map = RULE_MAP
    _default_greater_keys = DEFAULT_GREATER_KEYS
    _default_less_keys = DEFAULT_LESS_KEYS

    def __init__(
        self,
        monitor: str,
        rule: str | None = None,
        min_delta: float = 0.1,
        strict: bool = False,
        check_finite: bool = True,
        patience: int = 5,
        stopping_threshold: float | None = None,
    ) -> None:
        if rule is None:
            rule = self._init_rule(monitor)
        elif rule not in self.rule_map:
            raise ValueError(f"EarlyStoppingHook: rule must be 'greater' or 'less', got {rule!r}")
        self.monitor = monitor
        self.rule = rule
        self.min_delta = min_delta if rule == "greater" else -min_delta
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.wait_count = 0
        self.best_score = -math.inf if rule == "greater" else math.inf

    def _init_rule(self, monitor: str) -> str:
        return infer_rule(
            monitor, self._default_greater_keys, self._default_less_keys, "EarlyStoppingHook"
        )

    def state_dict(self) -> dict[str, Any]:
        """The best score so far and the evaluations waited since."""
        return {"best_score": float(self.best_score), "wait_count": int(self.wait_count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.best_score = float(state["best_score"])
        self.wait_count = int(state["wait_count"])

    def _check_stop_condition(self, current_score: float) -> tuple[bool, str]:
        compare = self.rule_map[self.rule]
        if self.check_finite and not math.isfinite(current_score):
            return True, (
                f"Monitored metric {self.monitor} = {current_score} is not finite. "
                f"Previous best value was {self.best_score:.3f}."
            )
        if self.stopping_threshold is not None and compare(current_score, self.stopping_threshold):
            self.best_score = current_score
            return True, (
                f"Stopping threshold reached: {self.monitor} = {current_score} is "
                f"{self.rule} than {self.stopping_threshold}."
            )
        if compare(self.best_score + self.min_delta, current_score):
            self.wait_count += 1
            if self.wait_count >= self.patience:
                return True, (
                    f"the monitored metric {self.monitor} did not improve in the last "
                    f"{self.wait_count} records. best score: {self.best_score:.3f}."
                )
            return False, ""
        self.best_score = current_score
        self.wait_count = 0
        return False, ""

    def before_train(self, runner: Runner) -> None:
        if not hasattr(runner.train_loop, "stop_training"):
            raise TypeError(
                f"EarlyStoppingHook needs a train loop with a 'stop_training' attribute; "
                f"{type(runner.train_loop).__name__} has none"
            )

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        metrics = metrics or {}
        if self.monitor not in metrics:
            message = (
                f"EarlyStoppingHook: metric {self.monitor!r} is not among the evaluation's "
                f"metrics {sorted(metrics)}"
            )
            if self.strict:
                raise RuntimeError(f"{message}; fix monitor, or set strict=False to skip.")
            warnings.warn(f"{message}; early stopping skipped this time.", stacklevel=2)
            return
        stop, reason = self._check_stop_condition(float(metrics[self.monitor]))
        if stop:
            runner.train_loop.stop_training = True
            runner.logger.info(reason)
