"""Reduce a hyper-parameter when a validation metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from torchrig.optim.scheduler._base import INF, OptimizerLike, _ParamScheduler
from torchrig.registry import PARAM_SCHEDULERS

__all__ = ["ReduceOnPlateauParamScheduler"]


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauParamScheduler(_ParamScheduler):
    """Multiplies the value by ``factor`` after ``patience`` evaluations without improvement.

    ``step()`` without metrics only counts a global step (the ParamSchedulerHook calls it
    every epoch or iteration, for the ``begin``/``end`` window); ``step(metrics)`` with the
    validation metrics dict (the hook calls it after each validation, as ``need_val_args`` is
    True) judges ``metrics[monitor]``. Matches torch's ``ReduceLROnPlateau``
    (``rule='less'`` is ``mode='min'``, ``threshold_rule`` is ``threshold_mode``,
    ``min_value`` is ``min_lr``).

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        monitor: The metric's key in the metrics dict.
        rule: ``'less'`` (lower is better) or ``'greater'``.
        factor: The reduction multiplier, below 1.
        patience: Evaluations without improvement tolerated before reducing.
        threshold: The least change that counts as an improvement.
        threshold_rule: ``'rel'`` (relative to the best) or ``'abs'``.
        cooldown: Evaluations to wait after a reduction before counting again.
        min_value: The floor of the value (one per group, or one for all).
        eps: Reductions smaller than this are skipped.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    need_val_args = True

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        monitor: str = "loss",
        rule: str = "less",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_rule: str = "rel",
        cooldown: int = 0,
        min_value: float | list[float] = 0.0,
        eps: float = 1e-8,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        if factor >= 1.0:
            raise ValueError(f"factor must be below 1.0, got {factor}")
        if rule not in ("less", "greater"):
            raise ValueError(f"rule must be 'less' or 'greater', got {rule!r}")
        if threshold_rule not in ("rel", "abs"):
            raise ValueError(f"threshold_rule must be 'rel' or 'abs', got {threshold_rule!r}")
        groups = optimizer.param_groups
        if isinstance(min_value, (list, tuple)):
            if len(min_value) != len(groups):
                raise ValueError(
                    f"min_value has {len(min_value)} values for {len(groups)} parameter groups"
                )
            self.min_values = [float(v) for v in min_value]
        else:
            self.min_values = [float(min_value)] * len(groups)
        self.monitor = monitor
        self.rule = rule
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_rule = threshold_rule
        self.cooldown = cooldown
        self.eps = eps
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self.best = math.inf if rule == "less" else -math.inf
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    def _is_better(self, current: float) -> bool:
        if self.rule == "less":
            if self.threshold_rule == "rel":
                return current < self.best * (1.0 - self.threshold)
            return current < self.best - self.threshold
        if self.threshold_rule == "rel":
            return current > self.best * (1.0 + self.threshold)
        return current > self.best + self.threshold

    def _get_value(self) -> list[Any]:
        values = []
        for group, floor in zip(self.optimizer.param_groups, self.min_values, strict=True):
            old = group[self.param_name]
            new = max(old * self.factor, floor)
            values.append(new if old - new > self.eps else old)
        return values

    def step(self, metrics: dict[str, Any] | None = None) -> None:  # type: ignore[override]
        """Counts a global step (no ``metrics``) or judges ``metrics[monitor]``.

        Args:
            metrics: The evaluation results, e.g. ``{'loss': 0.3, 'accuracy': 0.9}``.

        Raises:
            KeyError: When ``metrics`` has no ``monitor`` key.
        """
        if metrics is None:
            self._global_step += 1
            self._last_value = [g[self.param_name] for g in self.optimizer.param_groups]
            return
        if not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            if self.monitor not in metrics:
                raise KeyError(
                    f"{type(self).__name__} monitors {self.monitor!r}, which is not among the "
                    f"metrics {sorted(metrics)}; set monitor= to one of them"
                )
            self._judge(float(metrics[self.monitor]))
        self._last_value = [g[self.param_name] for g in self.optimizer.param_groups]

    def _judge(self, current: float) -> None:
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for index, (group, value) in enumerate(
                zip(self.optimizer.param_groups, self._get_value(), strict=True)
            ):
                self._apply_value(group, value)
                self.print_value(self.verbose, index, value)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
