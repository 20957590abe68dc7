"""Configs with MMEngine's language: ``Config``, ``ConfigDict``, ``DictAction``, ``read_base``.

Importing this package imports neither torch nor any tracker.
"""

from __future__ import annotations

from torchrig.config.config import Config
from torchrig.config.config_dict import ConfigDict
from torchrig.config.dict_action import DictAction
from torchrig.config.lazy import LazyAttr, LazyObject, read_base
from torchrig.config.utils import ConfigKeyError, ConfigParsingError

__all__ = [
    "Config",
    "ConfigDict",
    "ConfigKeyError",
    "ConfigParsingError",
    "DictAction",
    "LazyAttr",
    "LazyObject",
    "read_base",
]
