"""Text files as lists and dicts (MMEngine's ``mmengine.fileio.parse``)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from torchrig.fileio.io import _storage_for

__all__ = ["dict_from_file", "list_from_file"]


def _read_text(
    filename: str | Path, encoding: str, file_client_args: dict | None, backend_args: dict | None
) -> str:
    return _storage_for(filename, file_client_args, backend_args).get_text(filename, encoding)


def list_from_file(
    filename: str | Path,
    prefix: str = "",
    offset: int = 0,
    max_num: int = 0,
    encoding: str = "utf-8",
    file_client_args: dict | None = None,
    backend_args: dict | None = None,
) -> list[str]:
    """The lines of a text file, as a list of strings.

    Args:
        filename: The file (any storage, see :func:`torchrig.fileio.get_file_backend`).
        prefix: Put before each line.
        offset: Lines to skip at the start.
        max_num: The most lines to return (0: all).
        encoding: The file's encoding.
        file_client_args: MMEngine's older storage arguments (see ``FileClient``).
        backend_args: The storage backend's arguments.

    Returns:
        The lines, without their line endings.
    """
    text = _read_text(filename, encoding, file_client_args, backend_args)
    items: list[str] = []
    with StringIO(text) as f:
        for _ in range(offset):
            f.readline()
        for line in f:
            if 0 < max_num <= len(items):
                break
            items.append(prefix + line.rstrip("\n\r"))
    return items


def dict_from_file(
    filename: str | Path,
    key_type: type = str,
    encoding: str = "utf-8",
    file_client_args: dict | None = None,
    backend_args: dict | None = None,
) -> dict[Any, Any]:
    """A dict from a text file of whitespace-separated columns: the first column is the key,
    the rest the value (a string when there is one more column, else a list of strings).

    Args:
        filename: The file.
        key_type: Applied to each key (``int`` for numeric ids).
        encoding: The file's encoding.
        file_client_args: MMEngine's older storage arguments.
        backend_args: The storage backend's arguments.

    Returns:
        The mapping.
    """
    text = _read_text(filename, encoding, file_client_args, backend_args)
    mapping: dict[Any, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        items = line.split()
        if not items:
            continue
        if len(items) < 2:
            raise ValueError(
                f"{filename}, line {number}: expected a key and a value, got {line.strip()!r}"
            )
        key = key_type(items[0])
        mapping[key] = items[1:] if len(items) > 2 else items[1]
    return mapping
