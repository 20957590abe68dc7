"""The training engine: Runner, loops, checkpoints, log processor, hook priorities.

MMEngine's ``mmengine.runner`` names: ``from mmengine.runner import Runner`` becomes
``from torchrig.runner import Runner``.
"""

from __future__ import annotations

from torchrig.runner._flexible_runner import FlexibleRunner
from torchrig.runner.activation_checkpointing import turn_on_activation_checkpointing
from torchrig.runner.amp import autocast
from torchrig.runner.base_loop import BaseLoop
from torchrig.runner.checkpoint import (
    CheckpointError,
    CheckpointLoader,
    find_latest_checkpoint,
    get_deprecated_model_names,
    get_external_models,
    get_mmcls_models,
    get_state_dict,
    get_torchvision_models,
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
    "CheckpointLoader",
    "EpochBasedTrainLoop",
    "FlexibleRunner",
    "IterBasedTrainLoop",
    "LogProcessor",
    "Priority",
    "Runner",
    "TestLoop",
    "ValLoop",
    "autocast",
    "find_latest_checkpoint",
    "get_deprecated_model_names",
    "get_external_models",
    "get_mmcls_models",
    "get_priority",
    "get_state_dict",
    "get_torchvision_models",
    "load_checkpoint",
    "load_state_dict",
    "save_checkpoint",
    "set_random_seed",
    "turn_on_activation_checkpointing",
    "weights_to_cpu",
]
