"""Momentum schedulers: each parameter scheduler with ``param_name='momentum'``."""

from __future__ import annotations

from typing import Any

from torchrig.optim.scheduler._base import OptimizerLike
from torchrig.optim.scheduler.param_scheduler import (
    ConstantParamScheduler,
    CosineAnnealingParamScheduler,
    CosineRestartParamScheduler,
    ExponentialParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    PolyParamScheduler,
    ReduceOnPlateauParamScheduler,
    StepParamScheduler,
)
from torchrig.registry import PARAM_SCHEDULERS

__all__ = [
    "ConstantMomentum",
    "CosineAnnealingMomentum",
    "CosineRestartMomentum",
    "ExponentialMomentum",
    "LinearMomentum",
    "MomentumSchedulerMixin",
    "MultiStepMomentum",
    "PolyMomentum",
    "ReduceOnPlateauMomentum",
    "StepMomentum",
]


class MomentumSchedulerMixin:
    """Fixes ``param_name='momentum'``; for Adam-like optimizers schedules ``betas[0]``.

    Adam-like optimizers have no ``momentum`` key: each group gets one (its ``betas[0]``) and
    every change of it is written back into ``betas``.
    """

    def __init__(self, optimizer: OptimizerLike, *args: Any, **kwargs: Any) -> None:
        defaults = optimizer.defaults
        if "momentum" in defaults:
            self.use_betas = False
        elif "betas" in defaults:
            self.use_betas = True
            for group in optimizer.param_groups:
                group.setdefault("momentum", group["betas"][0])
        else:
            raise ValueError(
                f"{type(optimizer).__name__} has neither 'momentum' nor 'betas' to schedule"
            )
        super().__init__(optimizer, "momentum", *args, **kwargs)  # type: ignore[call-arg]

    def _apply_value(self, group: dict[str, Any], value: Any) -> None:
        group["momentum"] = value
        if self.use_betas:
            group["betas"] = (value, *tuple(group["betas"])[1:])


@PARAM_SCHEDULERS.register_module()
class ConstantMomentum(MomentumSchedulerMixin, ConstantParamScheduler):
    """:class:`ConstantParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingMomentum(MomentumSchedulerMixin, CosineAnnealingParamScheduler):
    """:class:`CosineAnnealingParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class CosineRestartMomentum(MomentumSchedulerMixin, CosineRestartParamScheduler):
    """:class:`CosineRestartParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class ExponentialMomentum(MomentumSchedulerMixin, ExponentialParamScheduler):
    """:class:`ExponentialParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class LinearMomentum(MomentumSchedulerMixin, LinearParamScheduler):
    """:class:`LinearParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class MultiStepMomentum(MomentumSchedulerMixin, MultiStepParamScheduler):
    """:class:`MultiStepParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class PolyMomentum(MomentumSchedulerMixin, PolyParamScheduler):
    """:class:`PolyParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauMomentum(MomentumSchedulerMixin, ReduceOnPlateauParamScheduler):
    """:class:`ReduceOnPlateauParamScheduler` on the momentum (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class StepMomentum(MomentumSchedulerMixin, StepParamScheduler):
    """:class:`StepParamScheduler` on the momentum (``param_name`` is fixed)."""
