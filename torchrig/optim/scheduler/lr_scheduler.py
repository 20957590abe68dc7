"""Learning-rate schedulers: each parameter scheduler with ``param_name='lr'``."""

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
    OneCycleParamScheduler,
    PolyParamScheduler,
    ReduceOnPlateauParamScheduler,
    StepParamScheduler,
)
from torchrig.registry import PARAM_SCHEDULERS

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineRestartLR",
    "ExponentialLR",
    "LRSchedulerMixin",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolyLR",
    "ReduceOnPlateauLR",
    "StepLR",
]


class LRSchedulerMixin:
    """Fixes ``param_name='lr'``: subclasses take the parameter scheduler's other arguments."""

    def __init__(self, optimizer: OptimizerLike, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, "lr", *args, **kwargs)  # type: ignore[call-arg]


@PARAM_SCHEDULERS.register_module()
class ConstantLR(LRSchedulerMixin, ConstantParamScheduler):
    """:class:`ConstantParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingLR(LRSchedulerMixin, CosineAnnealingParamScheduler):
    """:class:`CosineAnnealingParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class CosineRestartLR(LRSchedulerMixin, CosineRestartParamScheduler):
    """:class:`CosineRestartParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class ExponentialLR(LRSchedulerMixin, ExponentialParamScheduler):
    """:class:`ExponentialParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class LinearLR(LRSchedulerMixin, LinearParamScheduler):
    """:class:`LinearParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class MultiStepLR(LRSchedulerMixin, MultiStepParamScheduler):
    """:class:`MultiStepParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class OneCycleLR(LRSchedulerMixin, OneCycleParamScheduler):
    """:class:`OneCycleParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class PolyLR(LRSchedulerMixin, PolyParamScheduler):
    """:class:`PolyParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauLR(LRSchedulerMixin, ReduceOnPlateauParamScheduler):
    """:class:`ReduceOnPlateauParamScheduler` on the learning rate (``param_name`` is fixed)."""


@PARAM_SCHEDULERS.register_module()
class StepLR(LRSchedulerMixin, StepParamScheduler):
    """:class:`StepParamScheduler` on the learning rate (``param_name`` is fixed)."""
