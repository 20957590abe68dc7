"""``load`` and ``dump`` for json, yaml and pickle files, paths or file objects."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

from torchrig.fileio.handlers.base import BaseFileHandler
from torchrig.fileio.handlers.registry_utils import file_handlers

__all__ = ["load", "dump"]


def _get_handler(file_format: str, what: str) -> BaseFileHandler:
    handler = file_handlers.get(file_format.lower().lstrip("."))
    if handler is None:
        known = ", ".join(sorted(file_handlers))
        raise TypeError(
            f"Unsupported file format {file_format!r} for {what}. Known formats: {known}; "
            "pass file_format=... or register a handler with "
            "torchrig.fileio.register_handler."
        )
    return handler


def _format_of(file: str | Path | IO | None, file_format: str | None, what: str) -> str:
    if file_format is not None:
        return file_format
    if isinstance(file, (str, Path)):
        suffix = Path(file).suffix
        if not suffix:
            raise TypeError(
                f"Cannot tell the file format of {str(file)!r} (no extension); "
                "pass file_format='json', 'yaml' or 'pickle'."
            )
        return suffix[1:]
    raise TypeError(f"file_format must be given to {what} a file object or a string")


def _check_backend(file_client_args: dict | None, backend_args: dict | None) -> None:
    for args in (file_client_args, backend_args):
        backend = (args or {}).get("backend", "local")
        if backend not in ("local", "disk"):
            raise ValueError(
                f"torchrig.fileio reads and writes local files only; backend {backend!r} is not "
                "supported (leave file_client_args/backend_args unset)"
            )


def load(
    file: str | Path | IO,
    file_format: str | None = None,
    file_client_args: dict | None = None,
    backend_args: dict | None = None,
    **kwargs: Any,
) -> Any:
    """Load data from a json, yaml or pickle file.

    Args:
        file: A path (``str`` or ``Path``) or an open file object.
        file_format: The format (``'json'``, ``'yaml'``/``'yml'``, ``'pickle'``/``'pkl'``);
            inferred from the path's extension when None. Required for file objects.
        file_client_args: Accepted for MMEngine compatibility; only local files are supported.
        backend_args: Accepted for MMEngine compatibility; only local files are supported.
        **kwargs: Passed to the handler's loader.

    Returns:
        The loaded object.
    """
    _check_backend(file_client_args, backend_args)
    fmt = _format_of(file, file_format, "load")
    handler = _get_handler(fmt, f"loading {file!s}")
    if isinstance(file, (str, Path)):
        if not Path(file).is_file():
            raise FileNotFoundError(f"No such file: {str(file)!r}")
        return handler.load_from_path(file, **kwargs)
    if hasattr(file, "read"):
        return handler.load_from_fileobj(file, **kwargs)
    raise TypeError(f"file must be a path or a file object, got {type(file).__name__}")


def dump(
    obj: Any,
    file: str | Path | IO | None = None,
    file_format: str | None = None,
    file_client_args: dict | None = None,
    backend_args: dict | None = None,
    **kwargs: Any,
) -> str | bytes | None:
    """Dump data to a json, yaml or pickle file, or to a string.

    Args:
        obj: The object to write.
        file: A path (``str`` or ``Path``), an open file object, or None to return a string
            (bytes for pickle).
        file_format: The format; inferred from the path's extension when None. Required when
            ``file`` is None or a file object.
        file_client_args: Accepted for MMEngine compatibility; only local files are supported.
        backend_args: Accepted for MMEngine compatibility; only local files are supported.
        **kwargs: Passed to the handler's dumper.

    Returns:
        The serialized data when ``file`` is None, else None.
    """
    _check_backend(file_client_args, backend_args)
    if file is None and file_format is None:
        raise TypeError("file_format must be given when dumping to a string (file=None)")
    fmt = _format_of(file, file_format, "dump")
    handler = _get_handler(fmt, "dumping")
    if file is None:
        return handler.dump_to_str(obj, **kwargs)
    if isinstance(file, (str, Path)):
        handler.dump_to_path(obj, file, **kwargs)
        return None
    if hasattr(file, "write"):
        if isinstance(file, io.TextIOBase) and not handler.str_like:
            raise TypeError(f"{fmt} needs a file opened in binary mode ('wb')")
        handler.dump_to_fileobj(obj, file, **kwargs)
        return None
    raise TypeError(f"file must be a path, a file object or None, got {type(file).__name__}")
