"""Building optimizer wrappers and parameter schedulers; the ``auto_scale_lr`` rule."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

from torch import nn

if TYPE_CHECKING:
    from torchrig.optim import OptimWrapper, _ParamScheduler

    ParamSchedulers = Union[list[_ParamScheduler], dict[str, list[_ParamScheduler]]]

__all__ = ["build_optim_wrapper", "build_param_schedulers", "scale_lr"]


def build_optim_wrapper(model: nn.Module, optim_wrapper: Any) -> OptimWrapper:
    """Builds the optimizer wrapper (an ``OptimWrapperDict`` for several optimizers).

    Args:
        model: The model (possibly wrapped).
        optim_wrapper: A built wrapper, a wrapper config, or a dict of named wrappers.
    """
    from torchrig.optim import build_optim_wrapper as _build

    return _build(model, optim_wrapper)


def _build_list(
    schedulers: Any, optim_wrapper: OptimWrapper, default_ends: tuple[int, int], epoch_length: int
) -> list[_ParamScheduler]:
    from torchrig.optim import _ParamScheduler
    from torchrig.registry import PARAM_SCHEDULERS

    if not isinstance(schedulers, Sequence) or isinstance(schedulers, (str, dict)):
        schedulers = [schedulers]
    built: list[_ParamScheduler] = []
    for scheduler in schedulers:
        if isinstance(scheduler, _ParamScheduler):
            built.append(scheduler)
            continue
        if not isinstance(scheduler, dict):
            raise TypeError(
                f"a param_scheduler entry must be a scheduler or a dict, got {type(scheduler)}"
            )
        cfg = copy.deepcopy(dict(scheduler))
        cfg.setdefault("end", default_ends[0] if cfg.get("by_epoch", True) else default_ends[1])
        built.append(
            PARAM_SCHEDULERS.build(
                cfg, default_args=dict(optimizer=optim_wrapper, epoch_length=epoch_length)
            )
        )
    return built


def build_param_schedulers(
    param_scheduler: Any,
    optim_wrapper: OptimWrapper,
    max_epochs: int,
    max_iters: int,
    epoch_length: int,
) -> ParamSchedulers:
    """Builds the schedulers of one wrapper, or a list per wrapper of an OptimWrapperDict.

    A scheduler config without ``end`` ends with training (``max_epochs`` or
    ``max_iters`` by its ``by_epoch``).

    Args:
        param_scheduler: A scheduler, a config, a list of them, or (for an
            OptimWrapperDict) a dict from wrapper name to those.
        optim_wrapper: The built wrapper.
        max_epochs: Training epochs, the default end of epoch-based schedulers.
        max_iters: Training iterations, the default end of iteration-based schedulers.
        epoch_length: Iterations per epoch (``convert_to_iter_based``).
    """
    from torchrig.optim import OptimWrapperDict

    ends = (max_epochs, max_iters)
    if not isinstance(optim_wrapper, OptimWrapperDict):
        return _build_list(param_scheduler, optim_wrapper, ends, epoch_length)
    per_wrapper = isinstance(param_scheduler, dict) and "type" not in param_scheduler
    return {
        name: _build_list(
            param_scheduler[name] if per_wrapper else param_scheduler, wrapper, ends, epoch_length
        )
        for name, wrapper in optim_wrapper.items()
        if not per_wrapper or name in param_scheduler
    }


def scale_lr(
    optim_wrapper: OptimWrapper,
    auto_scale_lr: dict | None,
    real_batch_size: int | None,
    logger: logging.Logger,
) -> bool:
    """Scales every learning rate by ``real_batch_size / base_batch_size`` (linear rule).

    Does nothing unless ``auto_scale_lr=dict(enable=True, base_batch_size=...)``.

    Args:
        optim_wrapper: The built wrapper (schedulers must not be built yet: they keep the
            initial learning rates).
        auto_scale_lr: ``dict(base_batch_size=..., enable=...)``.
        real_batch_size: Batch size per rank times the world size.
        logger: Where the scaling is reported.

    Returns:
        Whether the learning rates were scaled.
    """
    from torchrig.optim import OptimWrapperDict

    if not auto_scale_lr or not auto_scale_lr.get("enable", False):
        return False
    if "base_batch_size" not in auto_scale_lr:
        raise KeyError("auto_scale_lr needs 'base_batch_size', e.g. dict(base_batch_size=256)")
    if real_batch_size is None:
        raise ValueError("auto_scale_lr is enabled but the train dataloader has no batch_size")
    ratio = float(real_batch_size) / float(auto_scale_lr["base_batch_size"])
    logger.info(
        f"LR is set based on batch size of {auto_scale_lr['base_batch_size']} and the current "
        f"batch size is {real_batch_size}. Scaling the original LR by {ratio}."
    )
    wrappers = (
        list(optim_wrapper.values())
        if isinstance(optim_wrapper, OptimWrapperDict)
        else [optim_wrapper]
    )
    for wrapper in wrappers:
        for group in wrapper.optimizer.param_groups:
            group["lr"] = group["lr"] * ratio
    return True
