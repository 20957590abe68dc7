"""OptimWrapperDict: several named optimizer wrappers (one per sub-network, e.g. a GAN)."""

from __future__ import annotations

from collections.abc import Generator, ItemsView, Iterator, KeysView, ValuesView
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper

__all__ = ["OptimWrapperDict"]


class OptimWrapperDict(OptimWrapper):
    """A dict of :class:`OptimWrapper` s that reads as one for logging and checkpoints.

    Update each wrapper yourself (``optim_wrapper['generator'].update_params(loss)``);
    ``update_params``, ``backward``, ``step``, ``zero_grad`` and ``optim_context`` raise
    ``NotImplementedError`` because which wrapper they mean is ambiguous.

    Args:
        **optim_wrapper_dict: The wrappers by name.
    """

    def __init__(self, **optim_wrapper_dict: OptimWrapper) -> None:
        for name, wrapper in optim_wrapper_dict.items():
            if not isinstance(wrapper, OptimWrapper):
                raise TypeError(
                    f"each value of OptimWrapperDict must be an OptimWrapper, got "
                    f"{name}={type(wrapper).__name__}"
                )
        self.optim_wrappers: dict[str, OptimWrapper] = dict(optim_wrapper_dict)

    def _ambiguous(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"OptimWrapperDict.{what} is ambiguous: call it on one wrapper, e.g. "
            f"optim_wrapper[{next(iter(self.optim_wrappers), 'name')!r}].{what}"
        )

    def update_params(self, *args: Any, **kwargs: Any) -> None:
        """Raises: update each wrapper separately."""
        raise self._ambiguous("update_params(loss)")

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Raises: back-propagate through one wrapper."""
        raise self._ambiguous("backward(loss)")

    def step(self, **kwargs: Any) -> None:
        """Raises: step each wrapper separately."""
        raise self._ambiguous("step()")

    def zero_grad(self, **kwargs: Any) -> None:
        """Raises: zero each wrapper separately."""
        raise self._ambiguous("zero_grad()")

    @contextmanager
    def optim_context(self, model: nn.Module) -> Generator[None, None, None]:
        """Raises: use the context of the wrapper that updates ``model``."""
        raise self._ambiguous("optim_context(model)")
        yield  # pragma: no cover

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Initializes every wrapper's counters (see :meth:`OptimWrapper.initialize_count_status`)."""
        for wrapper in self.optim_wrappers.values():
            wrapper.initialize_count_status(model, init_counts, max_counts)

    def should_update(self) -> bool:
        """Raises: ask one wrapper."""
        raise self._ambiguous("should_update()")

    def should_sync(self) -> bool:
        """Raises: ask one wrapper."""
        raise self._ambiguous("should_sync()")

    @property
    def param_groups(self) -> dict[str, list[dict[str, Any]]]:  # type: ignore[override]
        """Each wrapper's parameter groups under its name."""
        return {name: wrapper.param_groups for name, wrapper in self.optim_wrappers.items()}

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """Raises: each wrapper has its own defaults."""
        raise self._ambiguous("defaults")

    @property
    def inner_count(self) -> int:  # type: ignore[override]
        """The largest inner count among the wrappers."""
        return max((w.inner_count for w in self.optim_wrappers.values()), default=0)

    def get_lr(self) -> dict[str, list[float]]:
        """Learning rates by wrapper, as ``{'<name>.lr': [...]}``."""
        lrs: dict[str, list[float]] = {}
        for name, wrapper in self.optim_wrappers.items():
            for key, value in wrapper.get_lr().items():
                lrs[f"{name}.{key}"] = value
        return lrs

    def get_momentum(self) -> dict[str, list[float]]:
        """Momenta by wrapper, as ``{'<name>.momentum': [...]}``."""
        momenta: dict[str, list[float]] = {}
        for name, wrapper in self.optim_wrappers.items():
            for key, value in wrapper.get_momentum().items():
                momenta[f"{name}.{key}"] = value
        return momenta

    def state_dict(self) -> dict[str, Any]:
        """Each wrapper's state under its name."""
        return {name: wrapper.state_dict() for name, wrapper in self.optim_wrappers.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores each wrapper from ``state_dict[name]``.

        Raises:
            KeyError: When ``state_dict`` names a wrapper this dict does not have.
        """
        unknown = sorted(set(state_dict) - set(self.optim_wrappers))
        if unknown:
            raise KeyError(
                f"the optimizer state names wrappers {unknown} that this OptimWrapperDict does "
                f"not have (it has {sorted(self.optim_wrappers)})"
            )
        for name, state in state_dict.items():
            self.optim_wrappers[name].load_state_dict(state)

    def items(self) -> ItemsView[str, OptimWrapper]:
        """The (name, wrapper) pairs."""
        return self.optim_wrappers.items()

    def values(self) -> ValuesView[OptimWrapper]:
        """The wrappers."""
        return self.optim_wrappers.values()

    def keys(self) -> KeysView[str]:
        """The wrapper names."""
        return self.optim_wrappers.keys()

    def __getitem__(self, key: str) -> OptimWrapper:
        if key not in self.optim_wrappers:
            raise KeyError(
                f"OptimWrapperDict has no wrapper {key!r}; it has {sorted(self.optim_wrappers)}"
            )
        return self.optim_wrappers[key]

    def __contains__(self, key: object) -> bool:
        return key in self.optim_wrappers

    def __len__(self) -> int:
        return len(self.optim_wrappers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.optim_wrappers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  {name}: {wrapper!r}" for name, wrapper in self.items())
        return f"{type(self).__name__}({inner}\n)"
