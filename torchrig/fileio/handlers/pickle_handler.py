"""Pickle files."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import IO, Any

from torchrig.fileio.handlers.base import BaseFileHandler

__all__ = ["PickleHandler"]


class PickleHandler(BaseFileHandler):
    """Reads and writes pickles (binary); only load pickles you trust."""

    str_like = False

    def load_from_fileobj(self, file: IO, **kwargs: Any) -> Any:
        return pickle.load(file, **kwargs)

    def load_from_path(self, filepath: str | Path, mode: str = "rb", **kwargs: Any) -> Any:
        return super().load_from_path(filepath, mode=mode, **kwargs)

    def dump_to_str(self, obj: Any, **kwargs: Any) -> bytes:
        kwargs.setdefault("protocol", 2)
        return pickle.dumps(obj, **kwargs)

    def dump_to_fileobj(self, obj: Any, file: IO, **kwargs: Any) -> None:
        kwargs.setdefault("protocol", 2)
        pickle.dump(obj, file, **kwargs)

    def dump_to_path(self, obj: Any, filepath: str | Path, mode: str = "wb", **kwargs: Any) -> None:
        super().dump_to_path(obj, filepath, mode=mode, **kwargs)
