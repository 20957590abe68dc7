"""File handlers used by :func:`torchrig.fileio.load` and :func:`torchrig.fileio.dump`."""

from __future__ import annotations

from torchrig.fileio.handlers.base import BaseFileHandler
from torchrig.fileio.handlers.json_handler import JsonHandler
from torchrig.fileio.handlers.pickle_handler import PickleHandler
from torchrig.fileio.handlers.registry_utils import file_handlers, register_handler
from torchrig.fileio.handlers.yaml_handler import YamlHandler

__all__ = [
    "BaseFileHandler",
    "JsonHandler",
    "PickleHandler",
    "YamlHandler",
    "file_handlers",
    "register_handler",
]
