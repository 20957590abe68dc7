"""The table of file handlers by extension."""

from __future__ import annotations

from collections.abc import Callable

from torchrig.fileio.handlers.base import BaseFileHandler
from torchrig.fileio.handlers.json_handler import JsonHandler
from torchrig.fileio.handlers.pickle_handler import PickleHandler
from torchrig.fileio.handlers.yaml_handler import YamlHandler

__all__ = ["file_handlers", "register_handler"]

file_handlers: dict[str, BaseFileHandler] = {
    "json": JsonHandler(),
    "yaml": YamlHandler(),
    "yml": YamlHandler(),
    "pickle": PickleHandler(),
    "pkl": PickleHandler(),
}


def _register(handler: BaseFileHandler, file_formats: str | list[str]) -> None:
    if not isinstance(handler, BaseFileHandler):
        raise TypeError(f"handler must be a BaseFileHandler, got {type(handler).__name__}")
    if isinstance(file_formats, str):
        file_formats = [file_formats]
    for fmt in file_formats:
        file_handlers[fmt.lstrip(".")] = handler


def register_handler(
    file_formats: str | list[str], **kwargs: object
) -> Callable[[type[BaseFileHandler]], type[BaseFileHandler]]:
    """Register a handler class for one or more extensions (decorator).

    Args:
        file_formats: Extension(s) without the dot, e.g. ``'toml'``.
        **kwargs: Arguments for the handler's constructor.
    """

    def wrap(cls: type[BaseFileHandler]) -> type[BaseFileHandler]:
        _register(cls(**kwargs), file_formats)
        return cls

    return wrap
