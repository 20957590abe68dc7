"""``DeepSpeedStrategy``: MMEngine's strategy on Microsoft DeepSpeed's engine.

torchrig trains on PyTorch's own engine; building this strategy raises one error naming
what is needed (the ``deepspeed`` package) and what does the same job here (FSDP).
"""

from __future__ import annotations

from typing import Any

from torchrig._strategy._requires import unavailable_engine
from torchrig._strategy.base import BaseStrategy
from torchrig.registry import STRATEGIES

__all__ = ["DeepSpeedStrategy"]

_INSTEAD = (
    "strategy=dict(type='FSDPStrategy') shards parameters, gradients and optimizer states "
    "as DeepSpeed's ZeRO stage 3 does (model_wrapper=dict(sharding_strategy='SHARD_GRAD_OP') "
    "for stage 2), and optim_wrapper=dict(type='AmpOptimWrapper', ...) gives fp16/bf16."
)


@STRATEGIES.register_module()
class DeepSpeedStrategy(BaseStrategy):
    """MMEngine's DeepSpeed strategy; unavailable in torchrig (see the module docstring).

    Args:
        **kwargs: MMEngine's arguments (``config``, ``zero_optimization``, ``fp16``, ...).

    Raises:
        ImportError: ``deepspeed`` is not installed.
        NotImplementedError: It is installed (torchrig does not drive its engine).
    """

    def __init__(self, **kwargs: Any) -> None:
        raise unavailable_engine(
            "DeepSpeedStrategy", "deepspeed", "pip install deepspeed; it needs CUDA GPUs", _INSTEAD
        )
