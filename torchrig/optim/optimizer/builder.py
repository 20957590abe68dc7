"""Registers torch's optimizers and builds optimizer wrappers from config."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.optim.optimizer.optimizer_wrapper_dict import OptimWrapperDict
from torchrig.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

__all__ = [
    "BITSANDBYTES_OPTIMIZERS",
    "DADAPTATION_OPTIMIZERS",
    "LION_OPTIMIZERS",
    "SOPHIA_OPTIMIZERS",
    "TORCH_OPTIMIZERS",
    "TRANSFORMERS_OPTIMIZERS",
    "build_optim_wrapper",
    "register_bitsandbytes_optimizers",
    "register_dadaptation_optimizers",
    "register_lion_optimizers",
    "register_sophia_optimizers",
    "register_torch_npu_optimizers",
    "register_torch_optimizers",
    "register_transformers_optimizers",
]


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


def _register_optimizers_of(
    package: str, names: list[str] | None = None, rename: dict[str, str] | None = None
) -> list[str]:
    """Registers ``package``'s optimizer classes (``names``, else all of them) when it imports.

    A name already in OPTIMIZERS keeps its entry (torch's own come first). Returns the names
    registered or found, [] when the package is not installed.
    """
    if importlib.util.find_spec(package.partition(".")[0]) is None:
        return []
    module = importlib.import_module(package)
    rename = rename or {}
    registered = []
    for name in names if names is not None else dir(module):
        obj = getattr(module, name, None)
        if not (inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer)):
            continue
        register_name = rename.get(name, name)
        if register_name not in OPTIMIZERS.module_dict:
            OPTIMIZERS.register_module(name=register_name, module=obj)
        registered.append(register_name)
    return registered


def register_torch_npu_optimizers() -> list[str]:
    """Registers ``torch_npu``'s fused optimizers (``NpuFusedAdam``, ...) when on an Ascend NPU.

    Returns:
        The registered names; [] without ``torch_npu``.
    """
    return _register_optimizers_of("torch_npu.optim")


def register_dadaptation_optimizers() -> list[str]:
    """Registers ``dadaptation``'s ``DAdaptAdaGrad``, ``DAdaptAdam`` and ``DAdaptSGD``.

    Returns:
        The registered names; [] when ``dadaptation`` is not installed.
    """
    return _register_optimizers_of("dadaptation", ["DAdaptAdaGrad", "DAdaptAdam", "DAdaptSGD"])


def register_lion_optimizers() -> list[str]:
    """Registers ``lion_pytorch.Lion`` as ``'Lion'``.

    Returns:
        ``['Lion']``; [] when ``lion-pytorch`` is not installed.
    """
    return _register_optimizers_of("lion_pytorch", ["Lion"])


def register_sophia_optimizers() -> list[str]:
    """Registers every optimizer class of the ``Sophia`` package (``SophiaG``, ...).

    Returns:
        The registered names; [] when ``Sophia`` is not installed.
    """
    return _register_optimizers_of("Sophia")


_BITSANDBYTES_OPTIMIZERS = [
    "AdamW8bit", "Adam8bit", "Adagrad8bit", "PagedAdam8bit", "PagedAdamW8bit", "LAMB8bit",
    "LARS8bit", "RMSprop8bit", "Lion8bit", "PagedLion8bit", "SGD8bit",
]  # fmt: skip


def register_bitsandbytes_optimizers() -> list[str]:
    """Registers ``bitsandbytes``' 8-bit optimizers (``AdamW8bit``, ``PagedAdamW8bit``, ...).

    Returns:
        The registered names; [] when ``bitsandbytes`` is not installed.
    """
    return _register_optimizers_of("bitsandbytes.optim", _BITSANDBYTES_OPTIMIZERS)


def register_transformers_optimizers() -> list[str]:
    """Registers ``transformers.Adafactor`` as ``'Adafactor'``.

    Returns:
        ``['Adafactor']``; [] when ``transformers`` is not installed.
    """
    return _register_optimizers_of("transformers.optimization", ["Adafactor"])


# As MMEngine does, what is installed is registered when this module is imported (a package
# that is not installed costs one file-system lookup).
DADAPTATION_OPTIMIZERS = register_dadaptation_optimizers()
LION_OPTIMIZERS = register_lion_optimizers()
SOPHIA_OPTIMIZERS = register_sophia_optimizers()
BITSANDBYTES_OPTIMIZERS = register_bitsandbytes_optimizers()
TRANSFORMERS_OPTIMIZERS = register_transformers_optimizers()


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
