"""``ColossalAIStrategy``: MMEngine's strategy on HPC-AI Tech's ColossalAI engine.

torchrig trains on PyTorch's own engine; building this strategy raises one error naming
what is needed (the ``colossalai`` package) and what does the same job here (FSDP).
"""

from __future__ import annotations

from typing import Any

from torchrig._strategy._requires import unavailable_engine
from torchrig._strategy.base import BaseStrategy
from torchrig.registry import STRATEGIES

__all__ = ["ColossalAIStrategy"]

_INSTEAD = (
    "strategy=dict(type='FSDPStrategy') shards the model as ColossalAI's Gemini/ZeRO plugins do."
)


@STRATEGIES.register_module()
class ColossalAIStrategy(BaseStrategy):
    """MMEngine's ColossalAI strategy; unavailable in torchrig (see the module docstring).

    Args:
        **kwargs: MMEngine's arguments (``config``, ``mixed_precision``, ``plugin``, ...).

    Raises:
        ImportError: ``colossalai`` is not installed.
        NotImplementedError: It is installed (torchrig does not drive its engine).
    """

    def __init__(self, **kwargs: Any) -> None:
        raise unavailable_engine(
            "ColossalAIStrategy",
            "colossalai",
            "pip install colossalai; it needs CUDA GPUs",
            _INSTEAD,
        )
