"""Registers torch's optimizers and builds optimizer wrappers from config."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.optim.optimizer.optimizer_wrapper_dict import OptimWrapperDict
from torchrig.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

__all__ = ["TORCH_OPTIMIZERS", "build_optim_wrapper", "register_torch_optimizers"]


def register_torch_optimizers() -> list[str]:
    """Registers every ``torch.optim.Optimizer`` subclass in OPTIMIZERS under its class name.

    torch's ``Adafactor`` is registered as ``'TorchAdafactor'`` (as in MMEngine, where
    ``'Adafactor'`` names the transformers implementation).

    Returns:
        The names of the registered torch optimizers.
    """
    names = []
    for name in dir(torch.optim):
        if name.startswith("_"):
            continue
        obj = getattr(torch.optim, name)
        if not (inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer)):
            continue
        if obj is torch.optim.Optimizer:
            continue
        register_name = "TorchAdafactor" if name == "Adafactor" else name
        if register_name not in OPTIMIZERS.module_dict:
            OPTIMIZERS.register_module(name=register_name, module=obj)
        names.append(register_name)
    return names


TORCH_OPTIMIZERS = register_torch_optimizers()


@OPTIMIZERS.register_module(name="ZeroRedundancyOptimizer")
def _build_zero_redundancy_optimizer(params: Any, optimizer_type: str, **kwargs: Any) -> Any:
    # Imported on use: torch.distributed.optim takes seconds to import.
    from torchrig.optim.optimizer.zero_optimizer import ZeroRedundancyOptimizer

    return ZeroRedundancyOptimizer(params, optimizer_type, **kwargs)


def _is_constructor_cfg(cfg: dict[str, Any]) -> bool:
    return "optimizer" in cfg or "constructor" in cfg or "type" in cfg


def build_optim_wrapper(model: nn.Module, cfg: Any) -> OptimWrapper:
    """Builds an optimizer wrapper for ``model`` from ``cfg``.

    The Runner's ``optim_wrapper`` argument goes here as it is:

    - a built :class:`OptimWrapper` is returned unchanged;
    - ``dict(optimizer=<a built torch optimizer>, ...)`` is built by OPTIM_WRAPPERS;
    - ``dict(optimizer=dict(type='SGD', ...), type=..., constructor=..., paramwise_cfg=...)``
      is built by the constructor (``DefaultOptimWrapperConstructor`` when not given), which
      also receives the whole config when ``constructor`` is set without ``optimizer`` (custom
      constructors for several optimizers);
    - a dict of named entries without ``optimizer``/``constructor``/``type`` becomes an
      :class:`OptimWrapperDict`: built wrappers are used as they are, and a config entry is
      built for the sub-module of the same name (``model.<name>``).

    Args:
        model: The model whose parameters are optimized (a DDP/FSDP wrapper is unwrapped).
        cfg: As above; a ``Config``/``ConfigDict`` works like a dict.

    Returns:
        The built wrapper.
    """
    if isinstance(cfg, OptimWrapper):
        return cfg
    if not isinstance(cfg, dict):
        raise TypeError(
            "optim_wrapper must be an OptimWrapper or a dict such as "
            f"dict(optimizer=dict(type='SGD', lr=0.01)), got {type(cfg).__name__}"
        )
    if isinstance(cfg.get("optimizer"), torch.optim.Optimizer):
        wrapper_cfg = dict(cfg)
        wrapper_cfg.setdefault("type", "OptimWrapper")
        return OPTIM_WRAPPERS.build(wrapper_cfg)
    if _is_constructor_cfg(cfg):
        return _build_with_constructor(model, cfg)
    return _build_wrapper_dict(model, cfg)


def _build_with_constructor(model: nn.Module, cfg: dict[str, Any]) -> OptimWrapper:
    wrapper_cfg = copy.deepcopy(dict(cfg))
    constructor_type = wrapper_cfg.pop("constructor", "DefaultOptimWrapperConstructor")
    paramwise_cfg = wrapper_cfg.pop("paramwise_cfg", None)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=constructor_type, optim_wrapper_cfg=wrapper_cfg, paramwise_cfg=paramwise_cfg)
    )
    return constructor(model)


def _build_wrapper_dict(model: nn.Module, cfg: dict[str, Any]) -> OptimWrapperDict:
    module = getattr(model, "module", model)
    wrappers: dict[str, OptimWrapper] = {}
    for name, entry in cfg.items():
        if isinstance(entry, OptimWrapper):
            wrappers[name] = entry
            continue
        if not isinstance(entry, dict):
            raise TypeError(
                f"optim_wrapper.{name} must be an OptimWrapper or a config dict, since "
                f"optim_wrapper has no 'optimizer', 'type' or 'constructor'; got "
                f"{type(entry).__name__}"
            )
        sub_module = getattr(module, name, None)
        if not isinstance(sub_module, nn.Module):
            raise KeyError(
                f"optim_wrapper.{name} is a config for one sub-network, but the model has no "
                f"sub-module {name!r}; name entries after the model's attributes or pass a "
                "'constructor' that builds an OptimWrapperDict"
            )
        wrappers[name] = build_optim_wrapper(sub_module, entry)
    return OptimWrapperDict(**wrappers)
