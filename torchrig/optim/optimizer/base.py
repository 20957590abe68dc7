"""The abstract optimizer wrapper every torchrig optimizer wrapper derives from."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

import torch

__all__ = ["BaseOptimWrapper"]


class BaseOptimWrapper(metaclass=ABCMeta):
    """What schedulers, hooks and the Runner rely on in an optimizer wrapper.

    Args:
        optimizer: The wrapped optimizer.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    @abstractmethod
    def update_params(self, *args: Any, **kwargs: Any) -> None:
        """Backward, step and zero the gradients in one call."""

    @abstractmethod
    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Computes gradients of ``loss``."""

    @abstractmethod
    def zero_grad(self, **kwargs: Any) -> None:
        """Clears the gradients of the wrapped optimizer."""

    @abstractmethod
    def step(self, **kwargs: Any) -> None:
        """Updates the parameters."""

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state, checkpoint-safe (tensors and plain values)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the state returned by :meth:`state_dict`."""
        self.optimizer.load_state_dict(state_dict)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimizer's parameter groups (the same list, not a copy)."""
        return self.optimizer.param_groups

    @property
    def defaults(self) -> dict[str, Any]:
        """The wrapped optimizer's default hyper-parameters."""
        return self.optimizer.defaults

    def get_lr(self) -> dict[str, list[float]]:
        """The learning rate of each parameter group, as ``{'lr': [...]}``."""
        return {"lr": [group["lr"] for group in self.param_groups]}

    def get_momentum(self) -> dict[str, list[float]]:
        """The momentum of each group (``betas[0]`` for Adam-like optimizers, else 0)."""
        momentum = []
        for group in self.param_groups:
            if "momentum" in group:
                momentum.append(group["momentum"])
            elif "betas" in group:
                momentum.append(group["betas"][0])
            else:
                momentum.append(0)
        return {"momentum": momentum}
