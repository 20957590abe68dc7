"""The one-cycle policy (Smith & Topin, "Super-Convergence")."""

from __future__ import annotations

import math
from typing import Any

from torchrig.optim.scheduler._base import INF, OptimizerLike, _ParamScheduler
from torchrig.registry import PARAM_SCHEDULERS

__all__ = ["OneCycleParamScheduler"]


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


_ANNEAL = {"cos": _anneal_cos, "linear": _anneal_linear}


def _per_group(name: str, optimizer: OptimizerLike, value: Any) -> list[float]:
    groups = optimizer.param_groups
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{name} has {len(value)} values for {len(groups)} parameter groups")
        return [float(v) for v in value]
    return [float(value)] * len(groups)


@PARAM_SCHEDULERS.register_module()
class OneCycleParamScheduler(_ParamScheduler):
    """Raises the value from ``eta_max / div_factor`` to ``eta_max``, then anneals it far below.

    Matches torch's ``OneCycleLR`` with ``cycle_momentum=False``. The schedule lasts
    ``total_steps`` (default ``end - begin``) steps; the value starts at
    ``initial = eta_max / div_factor`` and ends at ``initial / final_div_factor``.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        eta_max: The peak value (one per group, or one for all).
        total_steps: Steps of the cycle (default ``end - begin``).
        pct_start: Fraction of the cycle spent increasing.
        anneal_strategy: ``'cos'`` or ``'linear'``.
        div_factor: ``initial = eta_max / div_factor``.
        final_div_factor: ``final = initial / final_div_factor``.
        three_phase: Go back down to ``initial`` symmetrically before annealing to ``final``.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        eta_max: float | list[float] = 0,
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        if total_steps is None:
            if end == INF:
                raise ValueError("OneCycle needs total_steps or a finite end")
            total_steps = end - begin
        if total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in _ANNEAL:
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        self._schedule_phases = self._phases(total_steps, pct_start, three_phase, param_name)
        if last_step == -1:
            peaks = _per_group("eta_max", optimizer, eta_max)
            for peak, group in zip(peaks, optimizer.param_groups, strict=True):
                group[f"initial_{param_name}"] = peak / div_factor
                group[f"max_{param_name}"] = peak
                group[f"min_{param_name}"] = peak / div_factor / final_div_factor
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    @staticmethod
    def _phases(total: int, pct_start: float, three_phase: bool, name: str) -> list[dict[str, Any]]:
        initial, peak, final = f"initial_{name}", f"max_{name}", f"min_{name}"
        start, end = f"start_{name}", f"end_{name}"  # MMEngine's keys, for its checkpoints
        if three_phase:
            return [
                {"end_step": float(pct_start * total) - 1, start: initial, end: peak},
                {"end_step": float(2 * pct_start * total) - 2, start: peak, end: initial},
                {"end_step": total - 1, start: initial, end: final},
            ]
        return [
            {"end_step": float(pct_start * total) - 1, start: initial, end: peak},
            {"end_step": total - 1, start: peak, end: final},
        ]

    @classmethod
    def build_iter_from_epoch(  # type: ignore[override]
        cls,
        *args: Any,
        total_steps: int | None = None,
        epoch_length: int | None = None,
        **kwargs: Any,
    ) -> _ParamScheduler:
        """As :meth:`_ParamScheduler.build_iter_from_epoch`; ``total_steps`` becomes iterations."""
        if total_steps is not None:
            total_steps = total_steps * (epoch_length or 0)
        return super().build_iter_from_epoch(
            *args, total_steps=total_steps, epoch_length=epoch_length, **kwargs
        )

    def _get_value(self) -> list[Any]:
        step = self.last_step
        if step > self.total_steps:
            raise ValueError(
                f"OneCycle stepped {step + 1} times, past total_steps={self.total_steps}; set "
                "end or total_steps to the length of training"
            )
        anneal = _ANNEAL[self.anneal_strategy]
        start, end = f"start_{self.param_name}", f"end_{self.param_name}"
        values = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for index, phase in enumerate(self._schedule_phases):
                phase_end = phase["end_step"]
                if step <= phase_end or index == len(self._schedule_phases) - 1:
                    pct = (step - phase_start) / (phase_end - phase_start)
                    values.append(anneal(group[phase[start]], group[phase[end]], pct))
                    break
                phase_start = phase_end
        return values
