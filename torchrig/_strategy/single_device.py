"""``SingleDeviceStrategy``: one process, the model on its device (the GPU when there is one)."""

from __future__ import annotations

from torchrig._strategy.base import BaseStrategy
from torchrig.registry import STRATEGIES

__all__ = ["SingleDeviceStrategy"]


@STRATEGIES.register_module()
class SingleDeviceStrategy(BaseStrategy):
    """Trains in one process on one device; the model is not wrapped.

    The default of :class:`~torchrig.runner.FlexibleRunner` when ``launcher='none'`` and no
    strategy is given. Takes :class:`BaseStrategy`'s keyword arguments.
    """
