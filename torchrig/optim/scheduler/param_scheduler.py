"""Parameter schedulers for any hyper-parameter (MMEngine's ``param_scheduler`` module).

The cosine, one-cycle and plateau schedulers live in their own modules and are re-exported.
"""

from __future__ import annotations

from typing import Any

from torchrig.optim.scheduler._base import INF, OptimizerLike, _ParamScheduler
from torchrig.optim.scheduler._cosine import (
    CosineAnnealingParamScheduler,
    CosineRestartParamScheduler,
)
from torchrig.optim.scheduler._one_cycle import OneCycleParamScheduler
from torchrig.optim.scheduler._plateau import ReduceOnPlateauParamScheduler
from torchrig.registry import PARAM_SCHEDULERS

__all__ = [
    "INF",
    "ConstantParamScheduler",
    "CosineAnnealingParamScheduler",
    "CosineRestartParamScheduler",
    "ExponentialParamScheduler",
    "LinearParamScheduler",
    "MultiStepParamScheduler",
    "OneCycleParamScheduler",
    "PolyParamScheduler",
    "ReduceOnPlateauParamScheduler",
    "StepParamScheduler",
    "_ParamScheduler",
]


def _current(scheduler: _ParamScheduler) -> list[Any]:
    return [group[scheduler.param_name] for group in scheduler.optimizer.param_groups]


def _check_factor(name: str, value: float) -> None:
    if not 0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@PARAM_SCHEDULERS.register_module()
class ConstantParamScheduler(_ParamScheduler):
    """Multiplies the value by ``factor`` until the last step of the window, then restores it.

    The value is ``factor * base`` for steps ``begin .. end - 2`` and ``base`` from ``end - 1``
    (torch's ``ConstantLR(total_iters=T)`` is ``end = begin + T + 1``).

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        factor: The multiplier, in [0, 1].
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        factor: float = 1.0 / 3,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        _check_factor("factor", factor)
        self.factor = factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    def _get_value(self) -> list[Any]:
        if self.last_step == 0:
            return [value * self.factor for value in _current(self)]
        if self.last_step != self.total_iters:
            return _current(self)
        return [value / self.factor for value in _current(self)]


@PARAM_SCHEDULERS.register_module()
class LinearParamScheduler(_ParamScheduler):
    """Scales the value linearly from ``start_factor * base`` to ``end_factor * base``.

    The end factor is reached at step ``end - 1`` (torch's ``LinearLR(total_iters=T)`` is
    ``end = begin + T + 1``).

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        start_factor: The multiplier at the first step, in [0, 1].
        end_factor: The multiplier at the last step, in [0, 1].
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        _check_factor("start_factor", start_factor)
        _check_factor("end_factor", end_factor)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    def _get_value(self) -> list[Any]:
        if self.last_step == 0:
            return [value * self.start_factor for value in _current(self)]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_step - 1) * delta)
        return [value * ratio for value in _current(self)]


@PARAM_SCHEDULERS.register_module()
class ExponentialParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` every step.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        gamma: The decay per step.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        gamma: float,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    def _get_value(self) -> list[Any]:
        if self.last_step == 0:
            return _current(self)
        return [value * self.gamma for value in _current(self)]


@PARAM_SCHEDULERS.register_module()
class StepParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` every ``step_size`` steps.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        step_size: Steps between decays (epochs, or iterations when ``by_epoch=False``).
        gamma: The decay.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        step_size: int,
        gamma: float = 0.1,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    @classmethod
    def build_iter_from_epoch(  # type: ignore[override]
        cls, *args: Any, step_size: int, epoch_length: int | None = None, **kwargs: Any
    ) -> _ParamScheduler:
        """As :meth:`_ParamScheduler.build_iter_from_epoch`; ``step_size`` becomes iterations."""
        step_size = step_size * (epoch_length or 0)
        return super().build_iter_from_epoch(
            *args, step_size=step_size, epoch_length=epoch_length, **kwargs
        )

    def _get_value(self) -> list[Any]:
        if self.last_step == 0 or self.last_step % self.step_size != 0:
            return _current(self)
        return [value * self.gamma for value in _current(self)]


@PARAM_SCHEDULERS.register_module()
class MultiStepParamScheduler(_ParamScheduler):
    """Multiplies the value by ``gamma`` at each milestone (twice for a repeated milestone).

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        milestones: Steps (counted from ``begin``) at which the value decays.
        gamma: The decay.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        milestones: list[int],
        gamma: float = 0.1,
        last_step: int = -1,
        begin: int = 0,
        end: int = INF,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        # A plain dict (not a Counter) keeps the state loadable with weights_only=True.
        self.milestones: dict[int, int] = {}
        for milestone in milestones:
            self.milestones[int(milestone)] = self.milestones.get(int(milestone), 0) + 1
        self.gamma = gamma
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    @classmethod
    def build_iter_from_epoch(  # type: ignore[override]
        cls, *args: Any, milestones: list[int], epoch_length: int | None = None, **kwargs: Any
    ) -> _ParamScheduler:
        """As :meth:`_ParamScheduler.build_iter_from_epoch`; milestones become iterations."""
        milestones = [m * (epoch_length or 0) for m in milestones]
        return super().build_iter_from_epoch(
            *args, milestones=milestones, epoch_length=epoch_length, **kwargs
        )

    def _get_value(self) -> list[Any]:
        count = self.milestones.get(self.last_step, 0)
        if count == 0:
            return _current(self)
        return [value * self.gamma**count for value in _current(self)]


@PARAM_SCHEDULERS.register_module()
class PolyParamScheduler(_ParamScheduler):
    """Decays the value polynomially to ``eta_min``, reached at step ``end - 1``.

    torch's ``PolynomialLR(total_iters=T, power=p)`` is ``end = begin + T + 1, power=p``.

    Args:
        optimizer: A torch optimizer or an OptimWrapper.
        param_name: The parameter-group key to schedule.
        eta_min: The final value.
        power: The polynomial's power.
        begin, end, last_step, by_epoch, verbose: As in :class:`_ParamScheduler`.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        eta_min: float = 0,
        power: float = 1.0,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        self.eta_min = eta_min
        self.power = power
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin, end, last_step, by_epoch, verbose)

    def _get_value(self) -> list[Any]:
        if self.last_step == 0:
            return _current(self)
        ratio = (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power
        return [(value - self.eta_min) * ratio + self.eta_min for value in _current(self)]
