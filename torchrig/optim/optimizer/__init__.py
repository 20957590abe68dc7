"""Optimizer wrappers, their constructor, and the registration of torch's optimizers."""

from __future__ import annotations

from typing import Any

from torchrig.optim.optimizer.amp_optimizer_wrapper import AmpOptimWrapper
from torchrig.optim.optimizer.apex_optimizer_wrapper import ApexOptimWrapper
from torchrig.optim.optimizer.base import BaseOptimWrapper
from torchrig.optim.optimizer.builder import (
    TORCH_OPTIMIZERS,
    build_optim_wrapper,
    register_torch_optimizers,
)
from torchrig.optim.optimizer.default_constructor import DefaultOptimWrapperConstructor
from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.optim.optimizer.optimizer_wrapper_dict import OptimWrapperDict
from torchrig.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

__all__ = [
    "ZeroRedundancyOptimizer",
    "OPTIMIZERS",
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "TORCH_OPTIMIZERS",
    "AmpOptimWrapper",
    "ApexOptimWrapper",
    "BaseOptimWrapper",
    "DefaultOptimWrapperConstructor",
    "OptimWrapper",
    "OptimWrapperDict",
    "build_optim_wrapper",
    "register_torch_optimizers",
]


def __getattr__(name: str) -> Any:
    # ZeroRedundancyOptimizer is imported on first access: torch.distributed.optim is slow.
    if name == "ZeroRedundancyOptimizer":
        from torchrig.optim.optimizer.zero_optimizer import ZeroRedundancyOptimizer

        return ZeroRedundancyOptimizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
