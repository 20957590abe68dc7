"""The training engine: Runner, loops, checkpoints, log processor, hook priorities.

MMEngine's ``mmengine.runner`` names: ``from mmengine.runner import Runner`` becomes
``from torchrig.runner import Runner``.
"""

from __future__ import annotations

from torchrig.runner._stop import TrainingStopped
from torchrig.runner.amp import autocast
from torchrig.runner.base_loop import BaseLoop
from torchrig.runner.checkpoint import (
    CheckpointError,
    find_latest_checkpoint,
    get_state_dict,
    load_checkpoint,
    load_state_dict,
    save_checkpoint,
    weights_to_cpu,
)
from torchrig.runner.log_processor import LogProcessor
from torchrig.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from torchrig.runner.priority import Priority, get_priority
from torchrig.runner.runner import Runner
from torchrig.runner.utils import set_random_seed

__all__ = [
    "BaseLoop",
    "CheckpointError",
    "EpochBasedTrainLoop",
    "IterBasedTrainLoop",
    "LogProcessor",
    "Priority",
    "Runner",
    "TestLoop",
    "TrainingStopped",
    "ValLoop",
    "autocast",
    "find_latest_checkpoint",
    "get_priority",
    "get_state_dict",
    "load_checkpoint",
    "load_state_dict",
    "save_checkpoint",
    "set_random_seed",
    "weights_to_cpu",
]
