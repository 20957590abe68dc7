"""Optimization: optimizer wrappers and constructors, and parameter schedulers."""

from __future__ import annotations

from typing import Any

from torchrig.optim.optimizer import (
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIMIZERS,
    TORCH_OPTIMIZERS,
    AmpOptimWrapper,
    ApexOptimWrapper,
    BaseOptimWrapper,
    DefaultOptimWrapperConstructor,
    OptimWrapper,
    OptimWrapperDict,
    build_optim_wrapper,
    register_torch_optimizers,
)
from torchrig.optim.scheduler import (
    INF,
    ConstantLR,
    ConstantMomentum,
    ConstantParamScheduler,
    CosineAnnealingLR,
    CosineAnnealingMomentum,
    CosineAnnealingParamScheduler,
    CosineRestartLR,
    CosineRestartMomentum,
    CosineRestartParamScheduler,
    ExponentialLR,
    ExponentialMomentum,
    ExponentialParamScheduler,
    LinearLR,
    LinearMomentum,
    LinearParamScheduler,
    LRSchedulerMixin,
    MomentumSchedulerMixin,
    MultiStepLR,
    MultiStepMomentum,
    MultiStepParamScheduler,
    OneCycleLR,
    OneCycleParamScheduler,
    PolyLR,
    PolyMomentum,
    PolyParamScheduler,
    ReduceOnPlateauLR,
    ReduceOnPlateauMomentum,
    ReduceOnPlateauParamScheduler,
    StepLR,
    StepMomentum,
    StepParamScheduler,
    _ParamScheduler,
)

__all__ = [
    "ZeroRedundancyOptimizer",
    "INF",
    "OPTIMIZERS",
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "TORCH_OPTIMIZERS",
    "AmpOptimWrapper",
    "ApexOptimWrapper",
    "BaseOptimWrapper",
    "ConstantLR",
    "ConstantMomentum",
    "ConstantParamScheduler",
    "CosineAnnealingLR",
    "CosineAnnealingMomentum",
    "CosineAnnealingParamScheduler",
    "CosineRestartLR",
    "CosineRestartMomentum",
    "CosineRestartParamScheduler",
    "DefaultOptimWrapperConstructor",
    "ExponentialLR",
    "ExponentialMomentum",
    "ExponentialParamScheduler",
    "LRSchedulerMixin",
    "LinearLR",
    "LinearMomentum",
    "LinearParamScheduler",
    "MomentumSchedulerMixin",
    "MultiStepLR",
    "MultiStepMomentum",
    "MultiStepParamScheduler",
    "OneCycleLR",
    "OneCycleParamScheduler",
    "OptimWrapper",
    "OptimWrapperDict",
    "PolyLR",
    "PolyMomentum",
    "PolyParamScheduler",
    "ReduceOnPlateauLR",
    "ReduceOnPlateauMomentum",
    "ReduceOnPlateauParamScheduler",
    "StepLR",
    "StepMomentum",
    "StepParamScheduler",
    "build_optim_wrapper",
    "register_torch_optimizers",
    "_ParamScheduler",
]


def __getattr__(name: str) -> Any:
    # ZeroRedundancyOptimizer is imported on first access: torch.distributed.optim is slow.
    if name == "ZeroRedundancyOptimizer":
        from torchrig.optim.optimizer.zero_optimizer import ZeroRedundancyOptimizer

        return ZeroRedundancyOptimizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
