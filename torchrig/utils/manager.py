"""Global named instances: MMEngine's ``ManagerMixin``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, TypeVar

__all__ = ["ManagerMeta", "ManagerMixin"]

T = TypeVar("T")

_lock = threading.RLock()


class ManagerMeta(type):
    """Gives each class that uses it its own table of named instances.

    The table is created per class, so ``MessageHub`` instances never mix with
    ``Visualizer`` instances even when both come from ``ManagerMixin``.
    """

    def __init__(cls, *args: Any) -> None:
        cls._instance_dict = OrderedDict()
        params = cls.__init__.__code__.co_varnames[: cls.__init__.__code__.co_argcount]
        if "name" not in params and cls.__name__ != "ManagerMixin":
            raise TypeError(
                f"{cls.__name__} uses ManagerMixin, so its __init__ must take a `name` argument"
            )
        super().__init__(*args)


class ManagerMixin(metaclass=ManagerMeta):
    """Named global instances of a class, with a notion of the *current* one.

    ``get_instance(name, **kwargs)`` creates the instance called ``name`` on first use and
    returns it afterwards; the instance created or fetched last is the current one.

    Args:
        name: The instance's name, unique among instances of the class.
    """

    _instance_dict: OrderedDict[str, Any]

    def __init__(self, name: str = "", **kwargs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__} needs a non-empty string name, got {name!r}")
        self._instance_name = name

    @classmethod
    def get_instance(cls: type[T], name: str, **kwargs: Any) -> T:
        """Returns the instance called ``name``, creating it with ``kwargs`` if needed.

        Args:
            name: The instance's name.
            **kwargs: Constructor arguments, used only when the instance is created.
        """
        with _lock:
            instances = cls._instance_dict  # type: ignore[attr-defined]
            if name not in instances:
                instances[name] = cls(name=name, **kwargs)  # type: ignore[call-arg]
            else:
                instances.move_to_end(name)
            return instances[name]

    @classmethod
    def get_current_instance(cls: type[T]) -> T | None:
        """Returns the instance created or fetched last, or None when there is none."""
        with _lock:
            instances = cls._instance_dict  # type: ignore[attr-defined]
            if not instances:
                return None
            return next(reversed(instances.values()))

    @classmethod
    def check_instance_created(cls, name: str) -> bool:
        """Whether an instance called ``name`` exists."""
        return name in cls._instance_dict

    @property
    def instance_name(self) -> str:
        """The name this instance was created with."""
        return self._instance_name
