"""``ConfigDict``: a dict with attribute access, used for every mapping inside a config."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from torchrig.config.lazy import build_lazy

__all__ = ["ConfigDict"]

_MISSING = object()


def _convert(value: Any) -> Any:
    """Turn dicts (also inside lists and tuples) into ``ConfigDict``s."""
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, dict):
        return ConfigDict(value)
    if type(value) is list:
        return [_convert(v) for v in value]
    if type(value) is tuple:
        return tuple(_convert(v) for v in value)
    return value


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in dict.items(value)}
    if type(value) is list:
        return [_to_plain(v) for v in value]
    if type(value) is tuple:
        return tuple(_to_plain(v) for v in value)
    return value


class ConfigDict(dict):
    """A dict whose keys can also be read and written as attributes.

    Nested dicts (also inside lists and tuples) become ``ConfigDict`` on assignment. Reading a
    missing key raises ``KeyError``; reading a missing attribute raises ``AttributeError`` naming
    the key. Values that are lazy imports (see :mod:`torchrig.config.lazy`) are imported when read
    through ``[]``, attributes, ``get``, ``pop``, ``values`` or ``items``.

    Examples:
        >>> cfg = ConfigDict(model=dict(type='ResNet', depth=50))
        >>> cfg.model.depth
        50
        >>> cfg.model['type']
        'ResNet'
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            dict.__setitem__(self, key, _convert(value))

    # -- item and attribute access ---------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, _convert(value))

    def __getitem__(self, key: Any) -> Any:
        return build_lazy(dict.__getitem__(self, key))

    def __missing__(self, key: Any) -> Any:
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        try:
            value = dict.__getitem__(self, name)
        except KeyError:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}' "
                f"(the config has no key {name!r})"
            ) from None
        return build_lazy(value)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}'"
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k for k in self if isinstance(k, str)})

    def get(self, key: Any, default: Any = None) -> Any:
        return build_lazy(dict.get(self, key, default))

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if default is _MISSING:
            return build_lazy(dict.pop(self, key))
        return build_lazy(dict.pop(self, key, default))

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        return (build_lazy(v) for v in dict.values(self))

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        return ((k, build_lazy(v)) for k, v in dict.items(self))

    def raw_items(self) -> Iterator[tuple[Any, Any]]:
        """Items with lazy imports left unimported."""
        return iter(dict.items(self))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Update recursively: a dict value merges into an existing dict value.

        A dict value with ``_delete_=True`` replaces the existing value instead.
        """
        for key, value in dict(*args, **kwargs).items():
            current = dict.get(self, key, _MISSING)
            if isinstance(value, dict) and dict.get(value, "_delete_", False):
                self[key] = {k: v for k, v in dict.items(value) if k != "_delete_"}
            elif isinstance(current, dict) and isinstance(value, dict):
                current.update(value)
            else:
                self[key] = value

    def merge(self, other: dict) -> None:
        """Merge ``other`` into this dict with config rules (``_delete_``, dotted keys)."""
        from torchrig.config.inheritance import merge_a_into_b

        merged = merge_a_into_b(_expand_dotted(other), self)
        dict.clear(self)
        for key, value in dict.items(merged):
            dict.__setitem__(self, key, value)

    # -- copies and conversion -------------------------------------------------------------
    def copy(self) -> ConfigDict:
        """A shallow copy, as a ``ConfigDict``."""
        new = ConfigDict()
        for key, value in dict.items(self):
            dict.__setitem__(new, key, value)
        return new

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> ConfigDict:
        new = ConfigDict()
        memo[id(self)] = new
        for key, value in dict.items(self):
            dict.__setitem__(new, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return new

    def __reduce__(self) -> tuple:
        return (ConfigDict, (dict(dict.items(self)),))

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return self.__reduce__()

    def to_dict(self) -> dict:
        """Convert to plain dicts, lists and tuples, recursively (lazy imports are kept)."""
        return _to_plain(self)

    def __repr__(self) -> str:
        return f"{dict.__repr__(self)}"


def _expand_dotted(options: dict) -> ConfigDict:
    """``{'a.b': 1}`` -> ``{'a': {'b': 1}}``."""
    expanded = ConfigDict()
    for full_key, value in options.items():
        node = expanded
        *parents, last = str(full_key).split(".")
        for part in parents:
            node = node.setdefault(part, ConfigDict())
        node[last] = value
    return expanded
