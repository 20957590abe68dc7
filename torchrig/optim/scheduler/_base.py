"""The base of every parameter scheduler: a schedule on a ``[begin, end)`` window of steps."""

from __future__ import annotations

import logging
from typing import Any

import torch

from torchrig.optim.optimizer.base import BaseOptimWrapper

__all__ = ["INF", "OptimizerLike", "_ParamScheduler"]

INF = int(1e9)

OptimizerLike = torch.optim.Optimizer | BaseOptimWrapper

_logger = logging.getLogger("torchrig")


class _ParamScheduler:
    """Sets one hyper-parameter (``param_name``) of every parameter group, step by step.

    The schedule acts on the global steps ``begin <= step < end`` (epochs when ``by_epoch``,
    else iterations) and leaves the value alone outside them, so schedulers chain: a
    ``LinearLR`` on ``[0, 5)`` followed by a ``CosineAnnealingLR`` with ``begin=5``. Inside the
    window ``last_step`` counts from 0. Constructing a scheduler applies its step-0 value, as
    torch's schedulers do; call :meth:`step` after each optimizer step (or epoch).

    Subclasses implement ``_get_value()``, returning the value of each group at
    ``self.last_step``.

    Args:
        optimizer: A torch optimizer or an :class:`OptimWrapper`.
        param_name: The parameter-group key to schedule (``'lr'``, ``'momentum'``, ...).
        begin: The first global step of the schedule.
        end: The global step at which the schedule stops changing the value.
        last_step: The index of the last step done (-1: start afresh).
        by_epoch: Whether steps are epochs (True) or iterations.
        verbose: Log every value change.
    """

    def __init__(
        self,
        optimizer: OptimizerLike,
        param_name: str,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
    ) -> None:
        if not isinstance(optimizer, (torch.optim.Optimizer, BaseOptimWrapper)):
            raise TypeError(
                f"{type(self).__name__} needs a torch optimizer or an OptimWrapper, got "
                f"{type(optimizer).__name__}"
            )
        if not isinstance(optimizer.param_groups, list):
            raise TypeError(
                f"{type(self).__name__} got an optimizer whose param_groups is not a list (an "
                "OptimWrapperDict?); build one scheduler per wrapper, e.g. "
                "param_scheduler=dict(generator=[...], discriminator=[...])"
            )
        if end <= begin:
            raise ValueError(
                f"{type(self).__name__} needs begin < end, got begin={begin}, end={end}"
            )
        self.optimizer = optimizer
        self.param_name = param_name
        self.begin = begin
        self.end = end
        self.by_epoch = by_epoch
        self.verbose = verbose
        self._init_groups(last_step)
        self.base_values = [g[f"initial_{param_name}"] for g in optimizer.param_groups]
        self.last_step = last_step
        self._last_value: list[Any] = []
        self._initial_step()

    def _init_groups(self, last_step: int) -> None:
        key = f"initial_{self.param_name}"
        for index, group in enumerate(self.optimizer.param_groups):
            if last_step == -1:
                if self.param_name not in group:
                    raise KeyError(
                        f"{type(self).__name__} schedules {self.param_name!r}, which parameter "
                        f"group {index} of {type(self.optimizer).__name__} does not have"
                    )
                # The first scheduler of a chain records the value every later one starts from.
                group.setdefault(key, group[self.param_name])
            elif key not in group:
                raise KeyError(
                    f"last_step={last_step} needs {key!r} in parameter group {index}; it is set "
                    "when a scheduler starts with last_step=-1"
                )

    @classmethod
    def build_iter_from_epoch(
        cls,
        *args: Any,
        begin: int = 0,
        end: int = INF,
        by_epoch: bool = True,
        epoch_length: int | None = None,
        **kwargs: Any,
    ) -> _ParamScheduler:
        """Builds the iteration-based twin of an epoch-based scheduler config.

        Args:
            *args: Constructor arguments.
            begin: First epoch.
            end: End epoch (``INF`` stays ``INF``).
            by_epoch: Must be True (the config being converted is epoch-based).
            epoch_length: Iterations per epoch.
            **kwargs: Other constructor arguments; subclasses convert their own epoch counts.
        """
        if not by_epoch:
            raise ValueError(
                f"{cls.__name__}.build_iter_from_epoch converts epoch-based configs; got by_epoch=False"
            )
        if epoch_length is None or epoch_length <= 0:
            raise ValueError(f"epoch_length must be a positive int, got {epoch_length!r}")
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)

    def _get_value(self) -> list[Any]:
        raise NotImplementedError

    def _initial_step(self) -> None:
        self._global_step = 0
        self.step()

    def _apply_value(self, group: dict[str, Any], value: Any) -> None:
        group[self.param_name] = value

    def step(self) -> None:
        """Advances one global step; inside ``[begin, end)`` sets the next value of each group."""
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            values = self._get_value()
            for index, (group, value) in enumerate(
                zip(self.optimizer.param_groups, values, strict=True)
            ):
                self._apply_value(group, value)
                self.print_value(self.verbose, index, value)
        self._global_step += 1
        self._last_value = [g[self.param_name] for g in self.optimizer.param_groups]

    def get_last_value(self) -> list[Any]:
        """The value of each group after the last :meth:`step`."""
        return self._last_value

    def print_value(self, is_verbose: bool, group: int, value: Any) -> None:
        """Logs a value change when ``is_verbose``."""
        if is_verbose:
            _logger.info("Adjusting parameter value of group %d to %.4e.", group, float(value))

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state without the optimizer (tensors and plain values only)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`'s output."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(param_name={self.param_name!r}, begin={self.begin}, "
            f"end={self.end}, by_epoch={self.by_epoch}, last_step={self.last_step})"
        )
