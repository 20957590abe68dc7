"""Lazy references to imported objects in pure-Python configs, and ``read_base``.

In a config such as::

    from torch.optim import SGD
    optimizer = dict(type=SGD, lr=0.1)

the parser replaces the import by ``SGD = LazyObject('torch.optim', 'SGD')``, so loading the
config imports nothing; the class is imported when the value is read from a ``ConfigDict``
(``cfg.optimizer.type``) or when :meth:`LazyObject.build` is called.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LazyAttr", "LazyObject", "read_base", "resolve_lazy"]


@contextmanager
def read_base() -> Iterator[None]:
    """Mark the imports of base configs in a pure-Python config.

    Example::

        from torchrig.config import read_base

        with read_base():
            from .._base_.default_runtime import *
    """
    yield


class LazyObject:
    """A module, or a name imported from a module, that is imported only when built.

    Args:
        module: The module's dotted path (``'torch.optim'``).
        imported: The name imported from it (``'SGD'``), or None for the module itself.
        location: Where the import was written (``'file.py, line 3'``), for error messages.
    """

    # Lets builders (``torchrig.registry.build_from_cfg``) recognise lazy values without
    # importing this module.
    _is_lazy_object = True

    def __init__(self, module: str, imported: str | None = None, location: str | None = None):
        if not isinstance(module, str) or not module:
            raise TypeError(f"module must be a non-empty str, got {module!r}")
        self._module = module
        self._imported = imported
        self.location = location

    @property
    def module(self) -> str:
        """The dotted module path."""
        return self._module

    @property
    def dump_str(self) -> str:
        """The dotted path of the object (``'torch.optim.SGD'``)."""
        return f"{self._module}.{self._imported}" if self._imported else self._module

    def build(self) -> Any:
        """Import and return the object."""
        where = f" (imported at {self.location})" if self.location else ""
        try:
            module = importlib.import_module(self._module)
        except ImportError as e:
            raise ImportError(f"Failed to import module {self._module!r}{where}: {e}") from e
        if self._imported is None:
            return module
        try:
            return getattr(module, self._imported)
        except AttributeError:
            try:  # a submodule: ``from torch import nn``
                return importlib.import_module(f"{self._module}.{self._imported}")
            except ImportError:
                pass
            raise ImportError(
                f"Cannot import name {self._imported!r} from {self._module!r}{where}"
            ) from None

    def __getattr__(self, name: str) -> LazyAttr:
        if name.startswith("__") or name in ("_module", "_imported", "location"):
            raise AttributeError(name)
        return LazyAttr(name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{self.dump_str} is imported lazily in this config and cannot be called while the "
            "config is parsed; use it as a value (e.g. type=...) instead"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyObject):
            return NotImplemented
        return (self._module, self._imported) == (other._module, other._imported)

    def __hash__(self) -> int:
        return hash((LazyObject, self._module, self._imported))

    def __str__(self) -> str:
        return self.dump_str

    def __repr__(self) -> str:
        return f"<LazyObject {self.dump_str!r}>"

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict) -> LazyObject:
        return self

    def __copy__(self) -> LazyObject:
        return self


class LazyAttr:
    """An attribute of a lazily imported object (``nn.ReLU`` where ``nn`` is lazy).

    Args:
        name: The attribute's name.
        source: The lazy object (or attribute) it is read from.
    """

    _is_lazy_object = True

    def __init__(self, name: str, source: LazyObject | LazyAttr):
        self.name = name
        self.source = source

    @property
    def dump_str(self) -> str:
        """The dotted path of the attribute."""
        return f"{self.source.dump_str}.{self.name}"

    @property
    def root(self) -> LazyObject:
        """The lazy import this attribute starts from."""
        source = self.source
        while isinstance(source, LazyAttr):
            source = source.source
        return source

    def build(self) -> Any:
        """Import the source and return the attribute."""
        obj = self.source.build()
        try:
            return getattr(obj, self.name)
        except AttributeError:
            raise ImportError(f"{self.source.dump_str} has no attribute {self.name!r}") from None

    def __getattr__(self, name: str) -> LazyAttr:
        if name.startswith("__") or name in ("name", "source"):
            raise AttributeError(name)
        return LazyAttr(name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{self.dump_str} is imported lazily in this config and cannot be called while the "
            "config is parsed; use it as a value (e.g. type=...) instead"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyAttr):
            return NotImplemented
        return self.dump_str == other.dump_str

    def __hash__(self) -> int:
        return hash((LazyAttr, self.dump_str))

    def __str__(self) -> str:
        return self.dump_str

    def __repr__(self) -> str:
        return f"<LazyAttr {self.dump_str!r}>"

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict) -> LazyAttr:
        return self

    def __copy__(self) -> LazyAttr:
        return self


def build_lazy(value: Any) -> Any:
    """Return the imported object for a lazy value, anything else unchanged."""
    if isinstance(value, (LazyObject, LazyAttr)):
        return value.build()
    return value


def resolve_lazy(value: Any) -> Any:
    """A copy of ``value`` with every lazy import in it imported, also inside dicts, lists and
    tuples (a builder that hands a config on as a plain dict, or reads a ``type``'s signature or
    name, then sees the real class or function)."""
    if isinstance(value, (LazyObject, LazyAttr)):
        return value.build()
    if isinstance(value, dict) and (type(value) is dict or hasattr(value, "raw_items")):
        return type(value)({k: resolve_lazy(v) for k, v in dict.items(value)})
    if type(value) in (list, tuple):
        return type(value)(resolve_lazy(v) for v in value)
    return value
