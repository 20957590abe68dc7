"""Cosine annealing schedulers, with and without restarts."""

from __future__ import annotations

import math
from typing import Any

from torchrig.optim.scheduler._base import INF, OptimizerLike, _ParamScheduler
from torchrig.registry import PARAM_SCHEDULERS

__all__ = ["CosineAnnealingParamScheduler", "CosineRestartParamScheduler"]


def _resolve_eta_min(eta_min: float | None, eta_min_ratio: float | None) -> float | None:
    if eta_min is not None and eta_min_ratio is not None:
        raise ValueError("give either eta_min or eta_min_ratio, not both")
    if eta_min is None and eta_min_ratio is None:
        return 0.0
    return eta_min


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingParamScheduler(_ParamScheduler):
    """Anneals the value from its base to ``eta_min`` along half a cosine over ``T_max`` steps.

    Computed recursively from the current value (as torch's ``CosineAnnealingLR``), so it
    chains with other schedulers. With the default ``T_max = end - begin`` the last step in
    the window is ``T_max - 1``; set ``T_max`` or ``end`` one larger to reach ``eta_min``.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        T_max: Steps of half a cosine period (default ``end - begin``).
        eta_min: The minimum value (default 0).
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
        eta_min_ratio: The minimum as a fraction of each group's base value (instead of
            ``eta_min``).
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        T_max: int | None = None,
        eta_min: float | None = None,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
        eta_min_ratio: float | None = None,
    ) -> None:
        if T_max is None and end == INF:
            raise ValueError("CosineAnnealing needs T_max or a finite end")
        self.T_max = T_max if T_max is not None else end - begin
        self.eta_min = _resolve_eta_min(eta_min, eta_min_ratio)
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    @classmethod
    def build_iter_from_epoch(  # type: ignore[override]
        cls,
        *args: Any,
        T_max: int | None = None,
        epoch_length: int | None = None,
        **kwargs: Any,
    ) -> _ParamScheduler:
        """As :meth:`_ParamScheduler.build_iter_from_epoch`; ``T_max`` becomes iterations."""
        if T_max is not None:
            T_max = T_max * (epoch_length or 0)
        return super().build_iter_from_epoch(
            *args, T_max=T_max, epoch_length=epoch_length, **kwargs
        )

    def _eta_min(self, base_value: float) -> float:
        if self.eta_min_ratio is None:
            return self.eta_min  # type: ignore[return-value]
        return base_value * self.eta_min_ratio

    def _get_value(self) -> list[Any]:
        groups = self.optimizer.param_groups
        name = self.param_name
        t, period = self.last_step, self.T_max
        if t == 0:
            return [group[name] for group in groups]
        if (t - 1 - period) % (2 * period) == 0:
            return [
                group[name] + (base - self._eta_min(base)) * (1 - math.cos(math.pi / period)) / 2
                for base, group in zip(self.base_values, groups, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [
            ratio * (group[name] - self._eta_min(base)) + self._eta_min(base)
            for base, group in zip(self.base_values, groups, strict=True)
        ]


@PARAM_SCHEDULERS.register_module()
class CosineRestartParamScheduler(_ParamScheduler):
    """Cosine annealing restarted after each period (SGDR).

    Period ``i`` lasts ``periods[i]`` steps, starts at ``restart_weights[i] * base`` and
    anneals towards ``eta_min``. After the last period the value is left alone. torch's
    ``CosineAnnealingWarmRestarts(T_0, T_mult)`` is ``periods=[T_0, T_0 * T_mult, ...]`` with
    weights of 1.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        periods: The length of each period.
        restart_weights: The restart value of each period, as a fraction of the base.
        eta_min: The minimum value (default 0).
        eta_min_ratio: The minimum as a fraction of each group's base value.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        periods: list[int],
        restart_weights: list[float] | tuple[float, ...] = (1,),
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        self.periods = [int(p) for p in periods]
        self.restart_weights = [float(w) for w in restart_weights]
        if len(self.periods) != len(self.restart_weights):
            raise ValueError(
                f"periods ({len(self.periods)}) and restart_weights "
                f"({len(self.restart_weights)}) must have the same length"
            )
        if any(p <= 0 for p in self.periods):
            raise ValueError(f"periods must be positive, got {self.periods}")
        self.eta_min = _resolve_eta_min(eta_min, eta_min_ratio)
        self.eta_min_ratio = eta_min_ratio
        self.cumulative_periods = [sum(self.periods[: i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    @classmethod
    def build_iter_from_epoch(  # type: ignore[override]
        cls, *args: Any, periods: list[int], epoch_length: int | None = None, **kwargs: Any
    ) -> _ParamScheduler:
        """As :meth:`_ParamScheduler.build_iter_from_epoch`; periods become iterations."""
        periods = [p * (epoch_length or 0) for p in periods]
        return super().build_iter_from_epoch(
            *args, periods=periods, epoch_length=epoch_length, **kwargs
        )

    def _position(self) -> int | None:
        for index, cumulative in enumerate(self.cumulative_periods):
            if self.last_step < cumulative:
                return index
        return None

    def _get_value(self) -> list[Any]:
        groups = self.optimizer.param_groups
        index = self._position()
        if index is None:
            return [group[self.param_name] for group in groups]
        start = 0 if index == 0 else self.cumulative_periods[index - 1]
        step = self.last_step - start
        period = self.periods[index]
        values = []
        for base, group in zip(self.base_values, groups, strict=True):
            eta_max = base * self.restart_weights[index]
            eta_min = self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio
            if step == 0:
                values.append(eta_max)
                continue
            ratio = (1 + math.cos(math.pi * step / period)) / (
                1 + math.cos(math.pi * (step - 1) / period)
            )
            values.append(ratio * (group[self.param_name] - eta_min) + eta_min)
        return values
