"""Path helpers (MMEngine's ``mmengine.utils.path``)."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from torchrig.utils.misc import is_str

__all__ = [
    "check_file_exist",
    "find_vcs_root",
    "fopen",
    "is_abs",
    "is_filepath",
    "mkdir_or_exist",
    "scandir",
    "symlink",
]


def is_filepath(x: Any) -> bool:
    """Whether ``x`` is a path: a string or a ``pathlib.Path``."""
    return is_str(x) or isinstance(x, Path)


def fopen(filepath: str | Path, *args: Any, **kwargs: Any) -> IO:
    """Opens a file named by a string or a ``Path`` (arguments as for :func:`open`)."""
    if is_str(filepath):
        return open(filepath, *args, **kwargs)  # noqa: SIM115 - the caller closes it
    if isinstance(filepath, Path):
        return filepath.open(*args, **kwargs)
    raise ValueError(f"`filepath` should be a string or a Path, got {type(filepath).__name__}")


def check_file_exist(filename: str | Path, msg_tmpl: str = 'file "{}" does not exist') -> None:
    """Raises ``FileNotFoundError`` (``msg_tmpl`` formatted with the name) unless it is a file."""
    if not osp.isfile(filename):
        raise FileNotFoundError(msg_tmpl.format(filename))


def mkdir_or_exist(dir_name: str | os.PathLike, mode: int = 0o777) -> None:
    """Creates a directory and its parents if they do not exist (``''`` does nothing)."""
    if dir_name == "":
        return
    Path(dir_name).expanduser().mkdir(mode=mode, parents=True, exist_ok=True)


def symlink(src: str | Path, dst: str | Path, overwrite: bool = True, **kwargs: Any) -> None:
    """Makes ``dst`` a symbolic link to ``src``, replacing an existing ``dst`` if ``overwrite``."""
    if os.path.lexists(dst) and overwrite:
        os.remove(dst)
    os.symlink(src, dst, **kwargs)


def _check_suffix(suffix: Any) -> None:
    if suffix is not None and not isinstance(suffix, (str, tuple)):
        raise TypeError(f'"suffix" must be a string or tuple of strings, got {suffix!r}')


def scandir(
    dir_path: str | Path,
    suffix: str | tuple[str, ...] | None = None,
    recursive: bool = False,
    case_sensitive: bool = True,
) -> Iterator[str]:
    """Yields the files under a directory (not hidden ones), as paths relative to it.

    Args:
        dir_path: The directory.
        suffix: Only files whose name ends with it (or one of them).
        recursive: Also look in subdirectories.
        case_sensitive: Whether ``suffix`` is matched case-sensitively.

    Yields:
        Relative file paths.
    """
    if not isinstance(dir_path, (str, Path)):
        raise TypeError(f'"dir_path" must be a string or Path object, got {dir_path!r}')
    _check_suffix(suffix)
    if suffix is not None and not case_sensitive:
        suffix = suffix.lower() if isinstance(suffix, str) else tuple(s.lower() for s in suffix)
    root = str(dir_path)

    def _scan(path: str) -> Iterator[str]:
        for entry in os.scandir(path):
            if entry.is_dir():
                if recursive:
                    yield from _scan(entry.path)
                continue
            if entry.name.startswith(".") or not entry.is_file():
                continue
            rel_path = osp.relpath(entry.path, root)
            name = rel_path if case_sensitive else rel_path.lower()
            if suffix is None or name.endswith(suffix):
                yield rel_path

    return _scan(root)


def find_vcs_root(path: str | Path, markers: tuple[str, ...] = (".git",)) -> str | None:
    """The nearest directory at or above ``path`` holding one of ``markers`` (None if none)."""
    current = osp.abspath(osp.expanduser(path))
    if osp.isfile(current):
        current = osp.dirname(current)
    while True:
        if any(osp.exists(osp.join(current, marker)) for marker in markers):
            return current
        parent = osp.dirname(current)
        if parent == current:
            return None
        current = parent


def is_abs(path: str | list[str]) -> bool:
    """Whether ``path`` (or every path of a list) is absolute: a local absolute path or an
    ``http(s)://``/``s3://`` URI."""
    if isinstance(path, list):
        return all(is_abs(item) for item in path)
    return osp.isabs(path) or str(path).startswith(("http://", "https://", "s3://"))
