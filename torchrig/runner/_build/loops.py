"""Building the train, val and test loops from their configs."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

if TYPE_CHECKING:
    from torchrig.runner.base_loop import BaseLoop
    from torchrig.runner.runner import Runner

__all__ = ["build_test_loop", "build_train_loop", "build_val_loop"]


def build_train_loop(runner: Runner, loop: BaseLoop | dict, dataloader: DataLoader | dict) -> BaseLoop:
    """Builds the train loop.

    ``dict(type='EpochBasedTrainLoop', max_epochs=...)`` goes through LOOPS; the shorthand
    ``dict(by_epoch=True, max_epochs=...)`` (or ``by_epoch=False, max_iters=...``) picks
    the epoch- or iteration-based loop.

    Args:
        runner: The runner.
        loop: A built loop or its config (``train_cfg``).
        dataloader: The train dataloader or its config.
    """
    from torchrig.registry import LOOPS
    from torchrig.runner.base_loop import BaseLoop
    from torchrig.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop

    if isinstance(loop, BaseLoop):
        return loop
    if not isinstance(loop, dict):
        raise TypeError(f"train_cfg must be a loop or a dict, got {type(loop).__name__}")
    cfg: dict[str, Any] = copy.deepcopy(dict(loop))
    if "type" in cfg:
        if "by_epoch" in cfg:
            raise ValueError(
                "train_cfg gives both 'type' and 'by_epoch'; keep 'type' (the loop decides) "
                "or 'by_epoch' (the shorthand), not both"
            )
        return LOOPS.build(cfg, default_args=dict(runner=runner, dataloader=dataloader))
    by_epoch = cfg.pop("by_epoch", "max_epochs" in cfg)
    loop_type = EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop
    return loop_type(**cfg, runner=runner, dataloader=dataloader)


def _build_eval_loop(
    runner: Runner,
    loop: BaseLoop | dict,
    dataloader: DataLoader | dict,
    evaluator: Any,
    default_type: type,
) -> BaseLoop:
    from torchrig.registry import LOOPS
    from torchrig.runner.base_loop import BaseLoop

    if isinstance(loop, BaseLoop):
        return loop
    if not isinstance(loop, dict):
        raise TypeError(f"a val/test cfg must be a loop or a dict, got {type(loop).__name__}")
    cfg: dict[str, Any] = copy.deepcopy(dict(loop))
    defaults = dict(runner=runner, dataloader=dataloader, evaluator=evaluator)
    if "type" in cfg:
        return LOOPS.build(cfg, default_args=defaults)
    return default_type(**cfg, **defaults)


def build_val_loop(
    runner: Runner, loop: BaseLoop | dict, dataloader: DataLoader | dict, evaluator: Any
) -> BaseLoop:
    """Builds the val loop (``ValLoop`` unless ``val_cfg`` names a ``type``).

    Args:
        runner: The runner.
        loop: A built loop or ``val_cfg``.
        dataloader: The val dataloader or its config.
        evaluator: The val evaluator or its config.
    """
    from torchrig.runner.loops import ValLoop

    return _build_eval_loop(runner, loop, dataloader, evaluator, ValLoop)


def build_test_loop(
    runner: Runner, loop: BaseLoop | dict, dataloader: DataLoader | dict, evaluator: Any
) -> BaseLoop:
    """Builds the test loop (``TestLoop`` unless ``test_cfg`` names a ``type``).

    Args:
        runner: The runner.
        loop: A built loop or ``test_cfg``.
        dataloader: The test dataloader or its config.
        evaluator: The test evaluator or its config.
    """
    from torchrig.runner.loops import TestLoop

    return _build_eval_loop(runner, loop, dataloader, evaluator, TestLoop)
