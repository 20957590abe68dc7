"""Recognise model wrappers (DDP, FSDP and those registered by downstream libraries)."""

from __future__ import annotations

from typing import Any

from torchrig.registry import MODEL_WRAPPERS, Registry

__all__ = ["is_model_wrapper"]


def is_model_wrapper(model: Any, registry: Registry = MODEL_WRAPPERS) -> bool:
    """Whether ``model`` is an instance of a type registered in ``registry`` or its children.

    A wrapper holds the real model as ``model.module``.

    Args:
        model: The object to check.
        registry: The registry of wrapper types; ``MODEL_WRAPPERS`` by default.
    """
    wrappers = tuple(obj for obj in registry.module_dict.values() if isinstance(obj, type))
    if wrappers and isinstance(model, wrappers):
        return True
    return any(is_model_wrapper(model, child) for child in registry.children.values())
