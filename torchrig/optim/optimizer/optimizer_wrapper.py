"""OptimWrapper: one optimizer with gradient accumulation, clipping and a uniform interface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.base import BaseOptimWrapper
from torchrig.registry import OPTIM_WRAPPERS

__all__ = ["OptimWrapper"]

_logger = logging.getLogger("torchrig")

_CLIP_FUNCS: dict[str, tuple[Callable[..., Any], str]] = {
    "norm": (nn.utils.clip_grad_norm_, "grad_norm"),
    "value": (nn.utils.clip_grad_value_, "grad_value"),
}


_NO_CONTEXT = nullcontext()  # reusable: enters and exits as often as asked
_PLAIN_CLASSES: dict[type, bool] = {}
_UPDATE_STEPS = ("scale_loss", "backward", "should_update", "step", "zero_grad")


def _plain(cls: type) -> bool:
    """Whether ``cls`` updates with OptimWrapper's own steps (no subclass overrides them)."""
    plain = _PLAIN_CLASSES.get(cls)
    if plain is None:
        plain = _PLAIN_CLASSES[cls] = all(
            getattr(cls, name) is getattr(OptimWrapper, name) for name in _UPDATE_STEPS
        )
    return plain


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _current_message_hub() -> Any:
    """The current MessageHub, or None when torchrig.logging has none (never creates one)."""
    try:
        from torchrig.logging import MessageHub
    except ImportError:
        return None
    if not getattr(MessageHub, "_instance_dict", None):
        return None
    return MessageHub.get_current_instance()


@OPTIM_WRAPPERS.register_module()
class OptimWrapper(BaseOptimWrapper):
    """Wraps an optimizer: ``update_params(loss)`` does backward, step and zero_grad.

    With ``accumulative_counts=k`` the parameters are updated every ``k`` calls of
    :meth:`update_params` and each loss is divided by ``k``, so ``k`` small batches give the
    update of one ``k``-times-larger batch. When the Runner has called
    :meth:`initialize_count_status`, the last ``max_counts % k`` iterations are divided by
    their own count, so the tail of a run is not under-weighted.

    Args:
        optimizer: The optimizer to wrap.
        accumulative_counts: How many ``update_params`` calls make one parameter update.
        clip_grad: Gradient clipping: ``dict(max_norm=1.0, norm_type=2)`` clips the total norm
            (``torch.nn.utils.clip_grad_norm_`` arguments), ``dict(type='value',
            clip_value=0.5)`` clips each element. The norm goes to the current MessageHub as
            ``train/grad_norm``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                "build it first or pass a config to build_optim_wrapper"
            )
        if not isinstance(accumulative_counts, int) or accumulative_counts < 1:
            raise ValueError(
                f"accumulative_counts must be a positive int, got {accumulative_counts!r}"
            )
        super().__init__(optimizer)
        self._accumulative_counts = accumulative_counts
        self.clip_grad_kwargs: dict[str, Any] = {}
        self.clip_func: Callable[..., Any] | None = None
        self.grad_name = "grad_norm"
        if clip_grad is not None:
            self._set_clip(clip_grad)
        self._inner_count = 0
        self._max_counts = -1
        self._remainder_counts = -1

    def _set_clip(self, clip_grad: dict[str, Any]) -> None:
        if not isinstance(clip_grad, dict) or not clip_grad:
            raise TypeError(
                "clip_grad must be a non-empty dict such as dict(max_norm=1.0) or "
                f"dict(type='value', clip_value=0.5), got {clip_grad!r}"
            )
        kwargs = dict(clip_grad)
        clip_type = kwargs.pop("type", "norm")
        if clip_type not in _CLIP_FUNCS:
            raise ValueError(f"clip_grad type must be 'norm' or 'value', got {clip_type!r}")
        self.clip_func, self.grad_name = _CLIP_FUNCS[clip_type]
        self.clip_grad_kwargs = kwargs

    # ------------------------------------------------------------------ the update
    def update_params(
        self,
        loss: torch.Tensor,
        step_kwargs: dict[str, Any] | None = None,
        zero_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Scales ``loss`` for accumulation, back-propagates it and, when due, steps and zeroes.

        Args:
            loss: The loss of this iteration.
            step_kwargs: Keyword arguments for ``optimizer.step``.
            zero_kwargs: Keyword arguments for ``optimizer.zero_grad``.
        """
        if self._accumulative_counts == 1 and self.clip_func is None and _plain(type(self)):
            # The usual case, with the same calls as below but none of the bookkeeping:
            # nothing to scale, clip or wait for.
            loss.backward()
            self._inner_count += 1
            optimizer = self.optimizer
            if step_kwargs:
                optimizer.step(**step_kwargs)
            else:
                optimizer.step()
            if zero_kwargs:
                optimizer.zero_grad(**zero_kwargs)
            else:
                optimizer.zero_grad()
            return
        loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Divides ``loss`` by the number of iterations accumulated into this update."""
        if self._accumulative_counts == 1:
            return loss
        if self._max_counts == -1:
            factor = self._accumulative_counts
        elif self._inner_count < self._max_counts - self._remainder_counts:
            factor = self._accumulative_counts
        else:
            factor = self._remainder_counts
        return loss / factor

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagates ``loss`` as given and counts the call.

        Args:
            loss: The (already scaled) loss; :meth:`update_params` scales it first.
            **kwargs: Passed to ``loss.backward``.
        """
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Clips gradients when configured, then steps the optimizer."""
        if self.clip_func is not None:
            self._clip_grad()
        self.optimizer.step(**kwargs)

    def zero_grad(self, **kwargs: Any) -> None:
        """Clears the gradients (``optimizer.zero_grad(**kwargs)``)."""
        self.optimizer.zero_grad(**kwargs)

    def _clip_grad(self) -> None:
        params = [
            p
            for group in self.optimizer.param_groups
            for p in group["params"]
            if p.requires_grad and p.grad is not None
        ]
        if not params or self.clip_func is None:
            return
        result = self.clip_func(params, **self.clip_grad_kwargs)
        if result is None:  # clip_grad_value_ returns nothing
            return
        if callable(getattr(result, "full_tensor", None)):
            result = result.full_tensor()  # FSDP: the norm is a replicated DTensor
        hub = _current_message_hub()
        if hub is not None:
            # Kept a tensor: converting here would synchronize with the device every step.
            hub.update_scalar(f"train/{self.grad_name}", result.detach())

    # ------------------------------------------------------------------ accumulation
    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Sets the counters at the start of training (the Runner calls it).

        Args:
            model: The trained model (checked for BatchNorm, which accumulation affects).
            init_counts: Iterations already done (non-zero on resume).
            max_counts: Iterations of the whole run.
        """
        self._inner_count = init_counts
        self._max_counts = max_counts
        if self._accumulative_counts > 1:
            if init_counts % self._accumulative_counts != 0:
                _logger.warning(
                    "Resumed iteration %d is not divisible by accumulative_counts=%d; the first "
                    "update after resuming accumulates fewer iterations.",
                    init_counts,
                    self._accumulative_counts,
                )
            if _has_batch_norm(model):
                _logger.warning(
                    "Gradient accumulation with BatchNorm layers: their statistics see the "
                    "small batches, which may slightly reduce performance."
                )
        self._remainder_counts = max_counts % self._accumulative_counts

    def should_update(self) -> bool:
        """Whether the last :meth:`backward` completes an accumulation (time to step)."""
        return (
            self._inner_count % self._accumulative_counts == 0
            or self._inner_count == self._max_counts
        )

    def should_sync(self) -> bool:
        """Whether the next backward must all-reduce gradients (it ends an accumulation)."""
        next_count = self._inner_count + 1
        return next_count % self._accumulative_counts == 0 or next_count == self._max_counts

    def optim_context(self, model: nn.Module) -> AbstractContextManager[Any]:
        """Context for the forward and backward of ``model``.

        Skips the gradient all-reduce (``model.no_sync()``) for iterations that only accumulate.
        """
        if (
            self._accumulative_counts != 1 or type(self).should_sync is not OptimWrapper.should_sync
        ) and not self.should_sync():  # (with one count per update, every backward syncs)
            if hasattr(model, "no_sync"):
                return model.no_sync()
        return _NO_CONTEXT

    @property
    def inner_count(self) -> int:
        """How many times :meth:`backward` has run (including iterations before a resume)."""
        return self._inner_count

    @property
    def max_counts(self) -> int:
        """The run's total iterations as given to :meth:`initialize_count_status` (-1: unset)."""
        return self._max_counts

    @property
    def accumulative_counts(self) -> int:
        """How many iterations are accumulated into one parameter update."""
        return self._accumulative_counts

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(accumulative_counts={self._accumulative_counts}, "
            f"clip_grad={self.clip_grad_kwargs or None}, optimizer=\n{self.optimizer!r})"
        )
