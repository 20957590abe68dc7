"""File input/output: ``load`` and ``dump`` for json, yaml and pickle."""

from __future__ import annotations

from torchrig.fileio.handlers import (
    BaseFileHandler,
    JsonHandler,
    PickleHandler,
    YamlHandler,
    file_handlers,
    register_handler,
)
from torchrig.fileio.io import dump, load

__all__ = [
    "BaseFileHandler",
    "JsonHandler",
    "PickleHandler",
    "YamlHandler",
    "dump",
    "file_handlers",
    "load",
    "register_handler",
]
