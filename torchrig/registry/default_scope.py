"""The default scope: which downstream library's registries a bare type name resolves in."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager

from torchrig.utils.manager import ManagerMixin

__all__ = ["DefaultScope", "init_default_scope"]


class DefaultScope(ManagerMixin):
    """A named global holding the scope (e.g. ``'mmdet'``) used to resolve bare type names.

    Args:
        name: The instance's name.
        scope_name: The scope, the name of the library whose registries come first.
    """

    def __init__(self, name: str, scope_name: str) -> None:
        super().__init__(name)
        if not isinstance(scope_name, str):
            raise TypeError(f"scope_name must be a string, got {scope_name!r}")
        self._scope_name = scope_name

    @property
    def scope_name(self) -> str:
        """The scope this instance names."""
        return self._scope_name

    @classmethod
    @contextmanager
    def overwrite_default_scope(cls, scope_name: str | None) -> Generator[None, None, None]:
        """Makes ``scope_name`` the current scope inside the ``with`` block (None: no change)."""
        if scope_name is None:
            yield
            return
        previous = cls.get_current_instance()
        temporary = cls.get_instance(f"overwrite-{time.monotonic_ns()}", scope_name=scope_name)
        try:
            yield
        finally:
            cls._instance_dict.pop(temporary.instance_name, None)
            if previous is not None:
                cls._instance_dict.move_to_end(previous.instance_name)


def init_default_scope(scope: str) -> None:
    """Makes ``scope`` the current default scope, creating its instance when needed."""
    existing = DefaultScope._instance_dict.get(scope)
    if existing is not None and existing.scope_name != scope:
        DefaultScope.get_instance(f"{scope}-{time.monotonic_ns()}", scope_name=scope)
    else:
        DefaultScope.get_instance(scope, scope_name=scope)
