"""Activation checkpointing: recompute chosen sub-modules' activations in the backward pass."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["turn_on_activation_checkpointing", "wrap_forward"]


def wrap_forward(forward: Callable) -> Callable:
    """``forward`` run through ``torch.utils.checkpoint.checkpoint`` (non-reentrant).

    Its activations are not kept for the backward pass but recomputed there, trading compute
    for memory.

    Args:
        forward: A module's bound ``forward``.

    Returns:
        The wrapped function, with ``forward``'s name and docstring.
    """
    from torch.utils.checkpoint import checkpoint

    @functools.wraps(forward)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return wrapper


def turn_on_activation_checkpointing(model: nn.Module, modules: list[str] | str) -> None:
    """Checkpoints the activations of ``model``'s sub-modules named in ``modules``.

    The Runner calls it with ``cfg.activation_checkpointing``; call it yourself on any model.

    Args:
        model: The model.
        modules: Names of sub-modules as ``model.get_submodule`` takes them (``'backbone.layer1'``).

    Raises:
        AttributeError: ``model`` has no sub-module of that name.
    """
    if isinstance(modules, str):
        modules = [modules]
    for name in modules:
        module = model.get_submodule(name)
        module.forward = wrap_forward(module.forward)  # type: ignore[method-assign]
