"""``MessageHub``: scalars and runtime information shared across a run
(``mmengine.logging.message_hub``)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from torchrig.logging.history_buffer import HistoryBuffer, _as_number, _is_tensor
from torchrig.utils import ManagerMixin

__all__ = ["MessageHub"]

_DEFAULT_NAME = "torchrig"
_MISSING = object()


class MessageHub(ManagerMixin):
    """Holds the history of logged scalars and the runtime information of a run.

    Scalars (``update_scalar``) are kept in :class:`HistoryBuffer` objects; runtime information
    (``update_info``) is any value, latest wins. Keys updated with ``resumed=True`` (the default)
    go into ``state_dict()`` and come back on resume.

    Args:
        name: The instance's name.
        log_scalars: Initial scalars, name to :class:`HistoryBuffer`.
        runtime_info: Initial runtime information.
        resumed_keys: Whether each key is saved in ``state_dict()``.
    """

    def __init__(
        self,
        name: str,
        log_scalars: dict[str, HistoryBuffer] | None = None,
        runtime_info: dict[str, Any] | None = None,
        resumed_keys: dict[str, bool] | None = None,
    ) -> None:
        super().__init__(name)
        self._log_scalars: OrderedDict[str, HistoryBuffer] = OrderedDict(log_scalars or {})
        self._runtime_info: OrderedDict[str, Any] = OrderedDict(runtime_info or {})
        self._resumed_keys: OrderedDict[str, bool] = OrderedDict(resumed_keys or {})
        for key, value in self._log_scalars.items():
            if not isinstance(value, HistoryBuffer):
                raise TypeError(
                    f"MessageHub: log_scalars[{key!r}] must be a HistoryBuffer, "
                    f"got {type(value).__name__}"
                )
        for key in self._resumed_keys:
            if key not in self._log_scalars and key not in self._runtime_info:
                raise KeyError(f"MessageHub: resumed key {key!r} is neither a scalar nor an info")

    @classmethod
    def get_current_instance(cls) -> MessageHub:
        """The current message hub; one named ``'torchrig'`` is created if none exists."""
        if not cls._instance_dict:
            cls.get_instance(_DEFAULT_NAME)
        return super().get_current_instance()  # type: ignore[return-value]

    def update_scalar(self, key: str, value: Any, count: int = 1, resumed: bool = True) -> None:
        """Append ``value`` to the history of scalar ``key``.

        Args:
            key: The scalar's name, e.g. ``'train/loss'``.
            value: A Python number, numpy scalar or one-element tensor; a tensor is stored as
                it is (detached) and converted when a statistic is asked for.
            count: How many samples ``value`` sums up (see :meth:`HistoryBuffer.mean`).
            resumed: Whether the key is saved in ``state_dict()``.
        """
        if self._resumed_keys.get(key, _MISSING) is not resumed:  # a new key or a new flag
            self._set_resumed_keys(key, resumed)
        if type(count) is not int and (isinstance(count, bool) or not isinstance(count, int)):
            count = _valid_count(count)
        buffer = self._log_scalars.get(key)
        if buffer is None:
            buffer = self._log_scalars[key] = HistoryBuffer()
        buffer.update(value, count)

    def update_scalars(
        self, log_dict: dict[str, Any], resumed: bool = True, *, count: int = 1
    ) -> None:
        """``update_scalar`` for each item of ``log_dict``.

        Args:
            log_dict: Name to value, or to ``dict(value=..., count=...)``.
            resumed: Whether the keys are saved in ``state_dict()``.
            count: The count of values given without one.
        """
        if not isinstance(log_dict, dict):
            raise TypeError(f"MessageHub.update_scalars: expected a dict, got {type(log_dict)}")
        for name, item in log_dict.items():
            if isinstance(item, dict):
                if "value" not in item:
                    raise KeyError(f"MessageHub.update_scalars: {name!r} has no 'value' key")
                self.update_scalar(name, item["value"], item.get("count", count), resumed)
            else:
                self.update_scalar(name, item, count, resumed)

    def update_info(self, key: str, value: Any, resumed: bool = True) -> None:
        """Set runtime information ``key`` to ``value`` (latest wins)."""
        if self._resumed_keys.get(key, _MISSING) is not resumed:
            self._set_resumed_keys(key, resumed)
        self._runtime_info[key] = value

    def update_info_dict(self, info_dict: dict[str, Any], resumed: bool = True) -> None:
        """``update_info`` for each item of ``info_dict``."""
        if not isinstance(info_dict, dict):
            raise TypeError(f"MessageHub.update_info_dict: expected a dict, got {type(info_dict)}")
        for key, value in info_dict.items():
            self.update_info(key, value, resumed=resumed)

    def pop_info(self, key: str, default: Any = None) -> Any:
        """Remove and return runtime information ``key`` (``default`` if absent)."""
        return self._runtime_info.pop(key, default)

    def _set_resumed_keys(self, key: str, resumed: bool) -> None:
        previous = self._resumed_keys.setdefault(key, resumed)
        if previous != resumed:
            raise ValueError(
                f"MessageHub: {key!r} was first updated with resumed={previous} and now with "
                f"resumed={resumed}; use one value per key"
            )

    @property
    def log_scalars(self) -> OrderedDict[str, HistoryBuffer]:
        """All scalars, name to :class:`HistoryBuffer`."""
        return self._log_scalars

    @property
    def runtime_info(self) -> OrderedDict[str, Any]:
        """All runtime information."""
        return self._runtime_info

    def get_scalar(self, key: str) -> HistoryBuffer:
        """The history of scalar ``key``.

        Raises:
            KeyError: When ``key`` was never updated.
        """
        if key not in self._log_scalars:
            raise KeyError(
                f"MessageHub {self.instance_name!r} has no scalar {key!r}; known scalars: "
                f"{list(self._log_scalars)}"
            )
        return self._log_scalars[key]

    def get_info(self, key: str, default: Any = None) -> Any:
        """Runtime information ``key``, or ``default`` when absent."""
        return self._runtime_info.get(key, default)

    def state_dict(self) -> dict[str, Any]:
        """The resumable scalars and information, as plain Python values and tensors.

        Scalars become ``{'log_history': [...], 'count_history': [...], 'max_length': n}``, so
        a checkpoint holding this loads with ``torch.load(weights_only=True)``.
        """
        scalars = {
            key: buffer.state_dict()
            for key, buffer in self._log_scalars.items()
            if self._resumed_keys.get(key, False)
        }
        info = {}
        for key, value in self._runtime_info.items():
            if self._resumed_keys.get(key, False):
                info[key] = _plain(value)
        return {
            "log_scalars": scalars,
            "runtime_info": info,
            "resumed_keys": dict(self._resumed_keys),
        }

    def load_state_dict(self, state_dict: dict[str, Any] | MessageHub) -> MessageHub:
        """Restore what ``state_dict()`` returned (also MMEngine's form, with HistoryBuffer
        objects, or a whole MessageHub).

        Returns:
            This message hub.
        """
        if isinstance(state_dict, MessageHub):
            state_dict = {
                "log_scalars": state_dict._log_scalars,
                "runtime_info": state_dict._runtime_info,
                "resumed_keys": state_dict._resumed_keys,
            }
        missing = {"log_scalars", "runtime_info", "resumed_keys"} - set(state_dict)
        if missing:
            raise KeyError(f"MessageHub.load_state_dict: the state lacks {sorted(missing)}")
        scalars: OrderedDict[str, HistoryBuffer] = OrderedDict()
        for key, value in state_dict["log_scalars"].items():
            if isinstance(value, HistoryBuffer):
                scalars[key] = copy.deepcopy(value)
            else:
                scalars[key] = HistoryBuffer.from_state_dict(value)
        self._log_scalars = scalars
        self._runtime_info = OrderedDict(copy.deepcopy(dict(state_dict["runtime_info"])))
        self._resumed_keys = OrderedDict(state_dict["resumed_keys"])
        return self


def _valid_count(count: Any) -> int:
    number = _as_number(count, "count")
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if not isinstance(number, int):
        raise TypeError(f"MessageHub: count must be an int, got {count!r}")
    return number


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays/scalars turned into lists/numbers and tensors detached, so
    that ``torch.load(weights_only=True)`` accepts it."""
    if _is_tensor(value):
        return value.detach().clone()
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    return copy.deepcopy(value)
