"""Describing a Runner built from objects as a config, so the experiment is recorded."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

__all__ = ["describe", "describe_objects"]

_MAX_REPR = 20_000
_MAX_ITEMS = 64  # longer containers (a dataset's annotations, say) are summarized
_PLAIN = (bool, int, float, str, type(None))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR] + "... (truncated)"


def _init_arguments(obj: Any, depth: int) -> dict[str, Any]:
    """The constructor arguments an object kept as attributes of the same name."""
    try:
        parameters = inspect.signature(type(obj).__init__).parameters
    except (TypeError, ValueError):
        return {}
    found: dict[str, Any] = {}
    for name in parameters:
        if name in ("self", "args", "kwargs"):
            continue
        for attr in (name, f"_{name}"):
            if attr in getattr(obj, "__dict__", {}):
                found[name] = describe(obj.__dict__[attr], depth + 1)
                break
    return found


def _describe_optimizer(optimizer: Any) -> dict[str, Any]:
    return {"type": type(optimizer).__name__, **{k: describe(v, 3) for k, v in optimizer.defaults.items()}}


def describe(obj: Any, depth: int = 0) -> Any:
    """A config-like description of ``obj``: plain values as they are, containers
    recursively, modules as ``dict(type=..., repr=...)``, other objects as their type and
    the constructor arguments they kept."""
    import torch

    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (dict, list, tuple)) and len(obj) > _MAX_ITEMS:
        return f"<{type(obj).__name__} of {len(obj)} items>"
    if isinstance(obj, dict):
        return {str(key): describe(value, depth + 1) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [describe(value, depth + 1) for value in obj]
    if isinstance(obj, torch.Tensor):
        return f"Tensor(shape={tuple(obj.shape)}, dtype={obj.dtype})"
    if isinstance(obj, torch.optim.Optimizer):
        return _describe_optimizer(obj)
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    if isinstance(obj, nn.Module):
        return {"type": type(obj).__name__, "repr": _short(repr(obj))}
    if depth > 4:
        return type(obj).__name__
    description: dict[str, Any] = {"type": type(obj).__name__}
    optimizer = getattr(obj, "optimizer", None)
    if isinstance(optimizer, torch.optim.Optimizer):
        description["optimizer"] = _describe_optimizer(optimizer)
    items = getattr(obj, "items", None)
    if callable(items) and type(obj).__name__ == "OptimWrapperDict":
        description.update({name: describe(value, depth + 1) for name, value in items()})
        return description
    for name, value in _init_arguments(obj, depth).items():
        description.setdefault(name, value)
    return description


def _describe_dataloader(loader: Any) -> dict[str, Any]:
    return {
        "type": type(loader).__name__,
        "batch_size": loader.batch_size,
        "num_workers": loader.num_workers,
        "drop_last": loader.drop_last,
        "sampler": {"type": type(loader.sampler).__name__},
        "collate_fn": describe(loader.collate_fn),
        "dataset": {"type": type(loader.dataset).__name__, "length": _length(loader.dataset)},
    }


def _length(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


def describe_objects(arguments: dict[str, Any]) -> dict[str, Any]:
    """Describes the Runner's constructor arguments (built objects included) as a config.

    Args:
        arguments: The constructor arguments by name; None values are left out.
    """
    from torch.utils.data import DataLoader

    described: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        if isinstance(value, DataLoader):
            described[name] = _describe_dataloader(value)
        else:
            described[name] = describe(value)
    return described
