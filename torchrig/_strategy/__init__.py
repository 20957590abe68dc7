"""Strategies: what differs between one device, DDP and FSDP (MMEngine's ``mmengine._strategy``).

Each strategy lives in its own module and is registered in ``STRATEGIES``;
:class:`~torchrig.runner.FlexibleRunner` builds one from ``strategy=dict(type=...)``.
``DeepSpeedStrategy`` and ``ColossalAIStrategy`` exist under their names and raise one clear
error (torchrig trains on PyTorch's own engine).
"""

from __future__ import annotations

from torchrig._strategy.base import BaseStrategy
from torchrig._strategy.colossalai import ColossalAIStrategy
from torchrig._strategy.deepspeed import DeepSpeedStrategy
from torchrig._strategy.distributed import DDPStrategy
from torchrig._strategy.fsdp import FSDPStrategy
from torchrig._strategy.single_device import SingleDeviceStrategy

__all__ = [
    "BaseStrategy",
    "ColossalAIStrategy",
    "DDPStrategy",
    "DeepSpeedStrategy",
    "FSDPStrategy",
    "SingleDeviceStrategy",
]
