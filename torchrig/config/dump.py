"""Writing a config as readable Python (``pretty_text``) or as JSON / YAML.

The Python text is formatted here, without yapf: a value is written on one line when it fits in
``LINE_WIDTH`` columns, otherwise one item per line. Lazy imports and classes or functions used
as values become import statements at the top, so the text loads back to an equal config.
"""

from __future__ import annotations

import inspect
import keyword
import math
from pathlib import Path
from typing import Any

from torchrig.config.lazy import LazyAttr, LazyObject

__all__ = ["LINE_WIDTH", "dump_to_format", "format_config"]

LINE_WIDTH = 100
_INDENT = 4


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


class _Imports:
    """Names for imported objects and the import statements that define them."""

    def __init__(self, reserved: set[str]):
        self._names: dict[tuple[str, str | None], str] = {}
        self._used = set(reserved)

    def _unique(self, preferred: str) -> str:
        name, n = preferred, 1
        while name in self._used or keyword.iskeyword(name):
            name, n = f"{preferred}_{n}", n + 1
        self._used.add(name)
        return name

    def name_for(self, module: str, attr: str | None, preferred: str | None = None) -> str:
        key = (module, attr)
        if key not in self._names:
            default = attr if attr else module.split(".")[-1]
            self._names[key] = self._unique(preferred or default)
        return self._names[key]

    def expression(self, value: Any, preferred: str | None = None) -> str:
        """A Python expression for a lazy object, class or function."""
        if isinstance(value, LazyObject):
            return self.name_for(value.module, value._imported, preferred)
        if isinstance(value, LazyAttr):
            return f"{self.expression(value.source)}.{value.name}"
        module = getattr(value, "__module__", None) or "builtins"
        qualname = getattr(value, "__qualname__", value.__name__)
        if module == "builtins":
            return qualname
        top, _, rest = qualname.partition(".")
        name = self.name_for(module, top, preferred)
        return f"{name}.{rest}" if rest else name

    def render(self) -> str:
        lines = []
        for (module, attr), name in self._names.items():
            if attr is None:
                line = f"import {module}" if name == module else f"import {module} as {name}"
            else:
                line = f"from {module} import {attr}"
                if name != attr:
                    line += f" as {name}"
            lines.append(line)
        return "\n".join(sorted(lines))


def _format_scalar(value: Any, imports: _Imports) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, (LazyObject, LazyAttr)):
        return imports.expression(value)
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
        return imports.expression(value)
    return repr(value)


def _broken_items(value: Any, imports: _Imports, indent: int) -> tuple[str, str, list[str]]:
    """Opening and closing brackets, and the items laid out one per line at ``indent``."""
    if isinstance(value, dict):
        keyed = all(_is_identifier(k) for k in value)
        items = []
        for key, item in dict.items(value):
            prefix = f"{key}=" if keyed else f"{key!r}: "
            items.append(prefix + _format(item, imports, indent, len(prefix)))
        return ("dict(", ")", items) if keyed else ("{", "}", items)
    open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
    return open_, close, [_format(item, imports, indent, 0) for item in value]


def _flat(value: Any, imports: _Imports) -> str:
    if isinstance(value, (dict, list, tuple)):
        open_, close, flat = _flat_items(value, imports)
        if isinstance(value, tuple) and len(value) == 1:
            return f"({flat[0]},)"
        return open_ + ", ".join(flat) + close
    return _format_scalar(value, imports)


def _flat_items(value: Any, imports: _Imports) -> tuple[str, str, list[str]]:
    if isinstance(value, dict):
        keyed = all(_is_identifier(k) for k in value)
        if keyed:
            items = [f"{k}={_flat(v, imports)}" for k, v in dict.items(value)]
            return "dict(", ")", items
        items = [f"{k!r}: {_flat(v, imports)}" for k, v in dict.items(value)]
        return "{", "}", items
    open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
    return open_, close, [_flat(v, imports) for v in value]


def _format(value: Any, imports: _Imports, indent: int, prefix_len: int) -> str:
    """Format ``value`` starting at column ``indent + prefix_len``."""
    flat = _flat(value, imports)
    if indent + prefix_len + len(flat) + 1 <= LINE_WIDTH or not isinstance(
        value, (dict, list, tuple)
    ):
        return flat
    if not value:
        return flat
    inner = indent + _INDENT
    open_, close, broken = _broken_items(value, imports, inner)
    pad = " " * inner
    body = "".join(f"{pad}{item},\n" for item in broken)
    return f"{open_}\n{body}{' ' * indent}{close}"


def format_config(cfg_dict: dict, imported_names: set[str] | frozenset[str] = frozenset()) -> str:
    """Python text that defines every top-level key of ``cfg_dict``.

    Args:
        cfg_dict: The config's values.
        imported_names: Top-level keys that are imports (written as import statements).

    Returns:
        The text: import statements, then one assignment per key.
    """
    reserved = {str(k) for k in cfg_dict if k not in imported_names}
    imports = _Imports(reserved)
    for key in imported_names:
        if key in cfg_dict:
            imports.expression(dict.__getitem__(cfg_dict, key), preferred=key)
    lines = []
    for key, value in dict.items(cfg_dict):
        if key in imported_names:
            continue
        if _is_identifier(key):
            lines.append(f"{key} = {_format(value, imports, 0, len(key) + 3)}")
        else:
            target = f"globals()[{key!r}]"
            lines.append(f"{target} = {_format(value, imports, 0, len(target) + 3)}")
    header = imports.render()
    text = "\n".join(lines) + "\n"
    return f"{header}\n\n{text}" if header else text


def dump_to_format(cfg_dict: dict, file: str | Path | None, file_format: str) -> str | None:
    """Dump plain config values to JSON or YAML (a string when ``file`` is None)."""
    from torchrig.fileio import dump

    kwargs: dict[str, Any] = {"indent": 4} if file_format == "json" else {}
    result = dump(cfg_dict, file, file_format=file_format, **kwargs)
    return result if isinstance(result, str) else None
