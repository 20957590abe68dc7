"""Activation checkpointing: recompute chosen sub-modules' activations in the backward pass."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["turn_on_activation_checkpointing", "wrap_forward"]

_MARK = "_torchrig_checkpointed"


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

    setattr(wrapper, _MARK, True)
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
        if not getattr(module.forward, _MARK, False):  # once, also when training twice
            module.forward = wrap_forward(module.forward)  # type: ignore[method-assign]


def _turn_on_memory_savers(model: nn.Module, cfg: Any, logger: Any) -> None:
    """What the config's ``efficient_conv_bn_eval`` and ``activation_checkpointing`` name, as
    MMEngine's ``Runner.train`` does (each a list of sub-module names)."""
    from torchrig.model.efficient_conv_bn_eval import turn_on_efficient_conv_bn_eval

    for key, turn_on in (
        ("efficient_conv_bn_eval", turn_on_efficient_conv_bn_eval),
        ("activation_checkpointing", turn_on_activation_checkpointing),
    ):
        modules = cfg.get(key)
        if modules is not None:
            logger.info(f"Enabling {key} for sub-modules: {modules}")
            turn_on(model, modules)
