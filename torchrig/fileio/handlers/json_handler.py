"""JSON files."""

from __future__ import annotations

import json
from typing import IO, Any

from torchrig.fileio.handlers.base import BaseFileHandler

__all__ = ["JsonHandler", "set_default"]


def set_default(obj: Any) -> Any:
    """Serializes what ``json`` does not know (the ``default=`` of ``json.dump``): sets and
    ranges as lists, numpy arrays and scalars as Python values, lazy config objects as text.

    Raises:
        TypeError: For anything else.
    """
    if isinstance(obj, (set, frozenset, range)):
        return list(obj)
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return tolist()
    if type(obj).__name__ in ("LazyObject", "LazyAttr"):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable: {obj!r}")


class JsonHandler(BaseFileHandler):
    """Reads and writes JSON; tuples are written as lists."""

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        return json.load(file, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        kwargs.setdefault("default", set_default)
        json.dump(obj, file, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", set_default)
        return json.dumps(obj, **kwargs)
