"""``HistoryBuffer``: the history of one logged scalar (``mmengine.logging.history_buffer``).

Unlike MMEngine's, which copies its whole numpy history on every update, an update here costs
the same whatever the history's length: values live in fixed-size ring buffers of doubles, the
global mean comes from running sums, a windowed statistic reads only its window. Tensor values
are kept as they are (detached, not copied: do not modify a logged tensor in place) and turned
into floats together, in one transfer per device, when a statistic is asked for, so logging a
GPU loss every iteration does not synchronise the device every iteration.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["HistoryBuffer"]

# Pending tensors are converted at the latest after this many updates, which bounds the memory
# held by a scalar that is logged but never read.
_MAX_PENDING = 1024


# ``torch.Tensor`` once torch is imported (this module does not import torch itself).
_TENSOR_TYPE: list[Any] = [None]


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    _TENSOR_TYPE[0] = torch.Tensor
    return isinstance(value, torch.Tensor)


def _to_floats(values: list[Any]) -> list[float]:
    """Python numbers for ``values``: tensors converted together, one transfer per device/dtype."""
    tensor_type = _TENSOR_TYPE[0]
    if tensor_type is None or not any(isinstance(value, tensor_type) for value in values):
        return values  # numbers already (``update`` converts everything else)
    stacked = _stack_scalars(values)
    if stacked is not None:
        return stacked
    tensor_slots: dict[tuple[Any, Any], list[int]] = {}
    for i, value in enumerate(values):
        if _is_tensor(value):
            tensor_slots.setdefault((value.device, value.dtype), []).append(i)
    if not tensor_slots:
        return values
    import torch

    out = list(values)
    for slots in tensor_slots.values():
        numbers = torch.stack([values[i].reshape(()) for i in slots]).tolist()
        for i, number in zip(slots, numbers):
            out[i] = number
    return out


def _stack_scalars(values: list[Any]) -> list[float] | None:
    """The usual case of :func:`_to_floats`: zero-dimensional tensors of one dtype on one
    device (a loss logged every iteration) become Python numbers in one ``stack`` (one
    transfer from the device); None otherwise."""
    tensor_type = _TENSOR_TYPE[0]
    first = values[0]
    if tensor_type is None or type(first) is not tensor_type:
        return None
    import torch

    try:
        stacked = torch.stack(values)
    except (TypeError, RuntimeError):  # numbers among them, other shapes or devices
        return None
    if stacked.ndim != 1 or stacked.dtype is not first.dtype:  # (not one dtype: promoted)
        return None
    return stacked.tolist()


class HistoryBuffer:
    """The recent history of a scalar with its counts, and statistics over it.

    ``mean`` is ``sum(values) / sum(counts)`` over the window, as in MMEngine: a value updated
    with ``count=n`` is the sum of ``n`` samples. Values and counts are stored as doubles in two
    ring buffers (16 bytes per update, at most ``max_length`` of them).

    Args:
        log_history: Initial values.
        count_history: Initial counts, one per value.
        max_length: The most values kept; older ones are dropped.
    """

    _statistics_methods: dict[str, Callable[..., Any]] = {}

    def __init__(
        self,
        log_history: Sequence[Any] = (),
        count_history: Sequence[Any] = (),
        max_length: int = 1000000,
    ) -> None:
        if len(log_history) != len(count_history):
            raise ValueError(
                "HistoryBuffer: log_history and count_history must have the same length, got "
                f"{len(log_history)} and {len(count_history)}"
            )
        if max_length < 1:
            raise ValueError(f"HistoryBuffer: max_length must be >= 1, got {max_length}")
        self.max_length = int(max_length)
        self._set_default_statistics()
        self._values = array("d")
        self._counts = array("d")
        self._start = 0  # ring position of the oldest value once the buffer is full
        # Values and counts not yet appended; ``_pending_tensors``: whether a value is a tensor.
        self._pending_values: list[Any] = []
        self._pending_counts: list[Any] = []
        self._pending_tensors = False
        # Running sums of the finite values and of the counts; recomputed exactly (fsum) once
        # per ``len`` evictions, so rounding from adding and removing cannot pile up.
        self._value_sum = 0.0
        self._count_sum = 0.0
        self._evictions = 0
        self._non_finite: dict[str, int] = {"nan": 0, "inf": 0, "-inf": 0}
        self._max = -math.inf
        self._min = math.inf
        self._extremes_stale = False
        start = max(len(log_history) - self.max_length, 0)
        for value, count in zip(log_history[start:], count_history[start:]):
            self.update(value, count)
        self._flush()

    @classmethod
    def _set_default_statistics(cls) -> None:
        for name in ("min", "max", "current", "mean"):
            cls._statistics_methods.setdefault(name, getattr(cls, name))

    @classmethod
    def register_statistics(cls, method: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``method`` (called as ``method(buffer, *args, **kwargs)``) under its name for
        ``statistics``; usable as a decorator.

        Raises:
            KeyError: When a statistic of that name is already registered.
        """
        name = method.__name__
        if name in cls._statistics_methods:
            raise KeyError(f"HistoryBuffer: a statistic named {name!r} is already registered")
        cls._statistics_methods[name] = method
        return method

    def update(self, log_val: Any, count: Any = 1) -> None:
        """Append a value (a number, numpy scalar or one-element tensor) with its count.

        A tensor is kept as it is (detached) until a statistic is asked for.

        Raises:
            TypeError: For a value that is not a number or a one-element tensor/array.
        """
        value_type = type(log_val)
        if value_type is float or value_type is int:
            pass
        elif value_type is _TENSOR_TYPE[0] or _is_tensor(log_val):
            if log_val.numel() != 1:
                raise TypeError(
                    "HistoryBuffer.update: a tensor value must hold one element, got shape "
                    f"{tuple(log_val.shape)}"
                )
            if log_val.requires_grad:  # keep no autograd graph alive
                log_val = log_val.detach()
            self._pending_tensors = True
        elif not isinstance(log_val, (int, float)):
            log_val = _as_number(log_val, "log_val")
        if type(count) is not int and not isinstance(count, (int, float)):
            count = _as_number(count, "count")
        values = self._pending_values
        values.append(log_val)
        self._pending_counts.append(count)
        if len(values) >= _MAX_PENDING:
            self._flush()

    @property
    def _pending(self) -> list[tuple[Any, Any]]:
        """The ``(value, count)`` pairs not yet appended (a copy; for inspection)."""
        return list(zip(self._pending_values, self._pending_counts))

    def _flush(self) -> None:
        """Turn pending values into floats (one transfer per device) and append them."""
        values = self._pending_values
        if not values:
            return
        counts = self._pending_counts
        if len(values) == 1:  # read after every update (a log line every iteration)
            value, count = values[0], counts[0]
            values.clear()
            counts.clear()
            if type(value) is not float:
                if self._pending_tensors:
                    self._pending_tensors = False
                    value = (value if value.ndim == 0 else value.reshape(())).tolist()
                value = float(value)
            self._append(value, float(count))
            return
        self._pending_values, self._pending_counts = [], []
        if self._pending_tensors:
            self._pending_tensors = False
            values = _to_floats(values)
        self._extend(array("d", values), array("d", counts))

    def _extend(self, values: array, counts: array) -> None:
        """``_append`` of each value in turn, in one pass while the ring buffer has room."""
        store = self._values
        if len(store) + len(values) > self.max_length:
            for value, count in zip(values, counts):
                self._append(value, count)
            return
        total = sum(values)
        if total - total == 0.0:  # all finite (else NaN or inf; or an overflow: the loop below)
            self._value_sum += total
            self._max = max(self._max, max(values))
            self._min = min(self._min, min(values))
        else:
            value_sum, largest, smallest = self._value_sum, self._max, self._min
            non_finite = self._non_finite
            for value in values:
                if value - value == 0.0:  # finite
                    value_sum += value
                else:
                    non_finite[_kind(value)] += 1
                if value > largest:
                    largest = value
                if value < smallest:
                    smallest = value
            self._value_sum, self._max, self._min = value_sum, largest, smallest
        self._count_sum += sum(counts)
        store.extend(values)
        self._counts.extend(counts)

    def _append(self, value: float, count: float) -> None:
        values = self._values
        if len(values) < self.max_length:
            values.append(value)
            self._counts.append(count)
        else:
            start = self._start
            self._forget(values[start], self._counts[start])
            values[start] = value
            self._counts[start] = count
            self._start = (start + 1) % self.max_length
        self._count_sum += count
        if value - value == 0.0:  # finite
            self._value_sum += value
        else:
            self._non_finite[_kind(value)] += 1
        if value > self._max:
            self._max = value
        if value < self._min:
            self._min = value
        if self._evictions >= len(values):
            self._evictions = 0
            self._value_sum = math.fsum(v for v in values if v - v == 0.0)
            self._count_sum = math.fsum(self._counts)

    def _forget(self, value: float, count: float) -> None:
        """Take the oldest value, about to be overwritten, out of the running statistics."""
        self._count_sum -= count
        if value - value == 0.0:
            self._value_sum -= value
        else:
            self._non_finite[_kind(value)] -= 1
        if value == self._max or value == self._min:
            self._extremes_stale = True
        self._evictions += 1

    def _ordered(self, values: array) -> array:
        return values[self._start :] + values[: self._start] if self._start else values[:]

    def _tail(self, values: array, window: int) -> array:
        """The newest ``window`` entries of a ring buffer (``window`` <= its length)."""
        end = self._start if self._start else len(values)
        if end >= window:
            return values[end - window : end]
        return values[len(values) - (window - end) :] + values[:end]

    def _window(self, window_size: int | None) -> int | None:
        """The window to read, or None for the whole history."""
        if self._pending_values:
            self._flush()
        if window_size is None:
            return None
        if type(window_size) is not int and (
            isinstance(window_size, bool) or not isinstance(window_size, int)
        ):
            raise TypeError(
                f"HistoryBuffer: window_size must be an int or None, got {window_size!r}"
            )
        if window_size < 1:
            raise ValueError(f"HistoryBuffer: window_size must be >= 1, got {window_size}")
        return None if window_size >= len(self._values) else window_size

    @property
    def data(self) -> tuple[Any, Any]:
        """``(values, counts)`` as numpy arrays, oldest first (as MMEngine's)."""
        import numpy as np

        self._flush()
        return (
            np.array(self._ordered(self._values), dtype=np.float64),
            np.array(self._ordered(self._counts), dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self._values) + len(self._pending_values)

    def mean(self, window_size: int | None = None) -> float:
        """``sum(values) / sum(counts)`` over the last ``window_size`` values (all if None).

        Costs O(1) for the whole history and O(window_size) for a window.
        """
        if self._pending_values:
            self._flush()
        values = self._values
        if type(window_size) is int and 0 < window_size < len(values) and not self._start:
            # The usual windowed mean (a log line): the window is the array's last entries.
            start = len(values) - window_size
            counts = sum(self._counts[start:])
            if counts:
                return sum(values[start:]) / counts
        window = self._window(window_size)
        if window is not None:
            return _divide(
                sum(self._tail(self._values, window)), sum(self._tail(self._counts, window))
            )
        if not self._values:
            return math.nan
        non_finite = self._non_finite
        if non_finite["nan"] or (non_finite["inf"] and non_finite["-inf"]):
            total = math.nan
        elif non_finite["inf"]:
            total = math.inf
        elif non_finite["-inf"]:
            total = -math.inf
        else:
            total = self._value_sum
        return _divide(total, self._count_sum)

    def max(self, window_size: int | None = None) -> float:
        """The largest of the last ``window_size`` values (all if None); NaN if one is NaN."""
        return self._extreme(window_size, True)

    def min(self, window_size: int | None = None) -> float:
        """The smallest of the last ``window_size`` values (all if None); NaN if one is NaN."""
        return self._extreme(window_size, False)

    def _extreme(self, window_size: int | None, largest: bool) -> float:
        window = self._window(window_size)
        if not self._values:
            raise ValueError("HistoryBuffer is empty: call update() first")
        if window is not None:
            tail = self._tail(self._values, window)
            if any(v != v for v in tail):
                return math.nan
            return max(tail) if largest else min(tail)
        if self._non_finite["nan"]:
            return math.nan
        if self._extremes_stale:
            # Only after the oldest value, which was the max or min, was dropped.
            self._max, self._min = max(self._values), min(self._values)
            self._extremes_stale = False
        return self._max if largest else self._min

    def current(self) -> float:
        """The latest value.

        Raises:
            ValueError: When the buffer is empty.
        """
        if self._pending_values:
            self._flush()
        if not self._values:
            raise ValueError("HistoryBuffer is empty: call update() first")
        return self._values[self._start - 1]

    def statistics(self, method_name: str, *args: Any, **kwargs: Any) -> Any:
        """Apply the statistic registered as ``method_name`` (``mean``, ``max``, ``min``,
        ``current`` or one added with ``register_statistics``).

        Raises:
            KeyError: For an unknown statistic.
        """
        if method_name not in self._statistics_methods:
            raise KeyError(
                f"HistoryBuffer: no statistic named {method_name!r}; registered: "
                f"{sorted(self._statistics_methods)}"
            )
        return self._statistics_methods[method_name](self, *args, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        """The history as plain Python lists (loadable with ``torch.load(weights_only=True)``)."""
        self._flush()
        return {
            "log_history": self._ordered(self._values).tolist(),
            "count_history": self._ordered(self._counts).tolist(),
            "max_length": self.max_length,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> HistoryBuffer:
        """The buffer that ``state_dict`` described."""
        return cls(state["log_history"], state["count_history"], state["max_length"])

    def __getstate__(self) -> dict[str, Any]:
        return self.state_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["log_history"], state["count_history"], state["max_length"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"HistoryBuffer(len={len(self)}, max_length={self.max_length})"


def _kind(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _divide(total: float, count: float) -> float:
    if count == 0:
        return math.nan if total == 0 or math.isnan(total) else math.copysign(math.inf, total)
    return total / count


def _as_number(value: Any, what: str) -> float | int:
    """A numpy scalar or one-element array as a Python number."""
    item = getattr(value, "item", None)
    if _is_tensor(value):
        size = value.numel()  # a tensor count: rare, so one .item() is acceptable here
    else:
        size = getattr(value, "size", 1)
    if item is None or size != 1:
        raise TypeError(
            f"HistoryBuffer.update: {what} must be a number or a one-element tensor/array, "
            f"got {type(value).__name__}"
        )
    number = item()
    if not isinstance(number, (int, float)):
        raise TypeError(f"HistoryBuffer.update: {what} must be numeric, got {number!r}")
    return number
