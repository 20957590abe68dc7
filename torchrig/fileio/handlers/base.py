"""The abstract file handler."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import IO, Any

__all__ = ["BaseFileHandler"]


class BaseFileHandler(metaclass=ABCMeta):
    """Reads and writes one file format.

    Subclasses implement the file-object and string methods; the path methods open the file in
    text or binary mode as ``str_like`` says.
    """

    str_like: bool = True

    @abstractmethod
    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        """Load an object from an open file."""

    @abstractmethod
    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        """Write ``obj`` to an open file."""

    @abstractmethod
    def dump_to_str(self, obj: Any, **kwargs: Any) -> str | bytes:
        """Serialize ``obj`` to a string (bytes for binary formats)."""

    def load_from_path(self, filepath: str | Path, mode: str = "r", **kwargs: Any) -> Any:
        """Load an object from the file at ``filepath``."""
        if not self.str_like and "b" not in mode:
            mode += "b"
        encoding = "utf-8" if "b" not in mode else None
        with open(filepath, mode, encoding=encoding) as f:
            return self.load_from_fileobj(f, **kwargs)

    def dump_to_path(self, obj: Any, filepath: str | Path, mode: str = "w", **kwargs: Any) -> None:
        """Write ``obj`` to the file at ``filepath``."""
        if not self.str_like and "b" not in mode:
            mode += "b"
        encoding = "utf-8" if "b" not in mode else None
        with open(filepath, mode, encoding=encoding) as f:
            self.dump_to_fileobj(obj, f, **kwargs)
