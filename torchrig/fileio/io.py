"""File input/output through storage backends: ``load``/``dump`` (json, yaml, pickle) and
MMEngine's ``get``, ``put``, ``exists``, ``copyfile``, ... functions."""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from torchrig.fileio.backends import BaseStorageBackend, LocalBackend
from torchrig.fileio.backends.registry_utils import backends, prefix_to_backends
from torchrig.fileio.handlers.base import BaseFileHandler
from torchrig.fileio.handlers.registry_utils import file_handlers

__all__ = [
    "copy_if_symlink_fails",
    "copyfile",
    "copyfile_from_local",
    "copyfile_to_local",
    "copytree",
    "copytree_from_local",
    "copytree_to_local",
    "dump",
    "exists",
    "generate_presigned_url",
    "get",
    "get_file_backend",
    "get_local_path",
    "get_text",
    "isdir",
    "isfile",
    "join_path",
    "list_dir_or_file",
    "load",
    "put",
    "put_text",
    "remove",
    "rmtree",
]


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


def _storage_for(file: str | Path, file_client_args: dict | None, backend_args: dict | None) -> Any:
    """The backend (or, for the older ``file_client_args``, the FileClient) for ``file``."""
    if file_client_args is not None:
        if backend_args is not None:
            raise ValueError(
                '"file_client_args" and "backend_args" cannot be set at the same time; '
                "pass backend_args only (file_client_args is MMEngine's older form)"
            )
        from torchrig.fileio.file_client import FileClient

        return FileClient.infer_client(file_client_args, file)
    return get_file_backend(file, backend_args=backend_args)


def _is_local(storage: Any) -> bool:
    return isinstance(getattr(storage, "client", storage), LocalBackend)


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
        file_client_args: MMEngine's older way to pick a storage (see ``FileClient``).
        backend_args: The storage backend's arguments (see :func:`get_file_backend`);
            by default the path's prefix picks it (a local path: the local disk).
        **kwargs: Passed to the handler's loader.

    Returns:
        The loaded object.
    """
    fmt = _format_of(file, file_format, "load")
    handler = _get_handler(fmt, f"loading {file!s}")
    if isinstance(file, (str, Path)):
        storage = _storage_for(file, file_client_args, backend_args)
        if not _is_local(storage):
            if handler.str_like:
                return handler.load_from_fileobj(io.StringIO(storage.get_text(file)), **kwargs)
            return handler.load_from_fileobj(io.BytesIO(storage.get(file)), **kwargs)
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
        file_client_args: MMEngine's older way to pick a storage (see ``FileClient``).
        backend_args: The storage backend's arguments (see :func:`get_file_backend`);
            by default the path's prefix picks it (a local path: the local disk).
        **kwargs: Passed to the handler's dumper.

    Returns:
        The serialized data when ``file`` is None, else None.
    """
    if file is None and file_format is None:
        raise TypeError("file_format must be given when dumping to a string (file=None)")
    fmt = _format_of(file, file_format, "dump")
    handler = _get_handler(fmt, "dumping")
    if file is None:
        return handler.dump_to_str(obj, **kwargs)
    if isinstance(file, (str, Path)):
        storage = _storage_for(file, file_client_args, backend_args)
        if not _is_local(storage):
            if handler.str_like:
                storage.put_text(handler.dump_to_str(obj, **kwargs), file)
            else:
                buffer = io.BytesIO()
                handler.dump_to_fileobj(obj, buffer, **kwargs)
                storage.put(buffer.getvalue(), file)
            return None
        handler.dump_to_path(obj, file, **kwargs)
        return None
    if hasattr(file, "write"):
        if isinstance(file, io.TextIOBase) and not handler.str_like:
            raise TypeError(f"{fmt} needs a file opened in binary mode ('wb')")
        handler.dump_to_fileobj(obj, file, **kwargs)
        return None
    raise TypeError(f"file must be a path, a file object or None, got {type(file).__name__}")


# One backend per prefix and arguments, shared by the functions below.
_backend_instances: dict[str, BaseStorageBackend] = {}


def _parse_uri_prefix(uri: str | Path) -> str:
    """The URI's scheme (``'s3'`` for ``s3://bucket/x``, ``'petrel'`` for
    ``cluster:petrel://...``), or ``''`` for a local path."""
    uri = str(uri)
    if "://" not in uri:
        return ""
    prefix = uri.split("://", 1)[0]
    # Petrel paths may name a cluster first: "cluster:s3://bucket".
    return prefix.split(":")[-1]


def get_file_backend(
    uri: str | Path | None = None,
    *,
    backend_args: dict | None = None,
    enable_singleton: bool = False,
) -> BaseStorageBackend:
    """The storage backend for a path or URI.

    Args:
        uri: The path; its prefix (``http://``, ``s3://``, none for local) picks the backend
            unless ``backend_args`` names one.
        backend_args: ``backend`` (a registered name, see
            :func:`torchrig.fileio.register_backend`) and the backend's own arguments.
        enable_singleton: Reuse one backend per prefix and arguments.

    Returns:
        The backend.

    Example:
        >>> backend = get_file_backend('/tmp/x.txt')
        >>> type(backend).__name__
        'LocalBackend'
    """
    args = dict(backend_args or {})
    if uri is None and "backend" not in args:
        raise ValueError('uri should not be None when "backend" does not exist in backend_args')
    prefix = _parse_uri_prefix(uri) if uri is not None else ""
    key = f"{prefix}:{json.dumps(args, sort_keys=True, default=str)}"
    if enable_singleton and key in _backend_instances:
        return _backend_instances[key]
    if "backend" in args:
        name = args.pop("backend")
        if name not in backends:
            raise ValueError(f"unknown storage backend {name!r}; registered: {sorted(backends)}")
        backend = backends[name](**args)
    else:
        if prefix not in prefix_to_backends:
            raise ValueError(
                f"no storage backend handles {prefix}:// (for {uri}); registered prefixes: "
                f"{sorted(p for p in prefix_to_backends if p)}"
            )
        backend = prefix_to_backends[prefix](**args)
    if enable_singleton:
        _backend_instances[key] = backend
    return backend


def _backend(path: str | Path, backend_args: dict | None) -> Any:
    return get_file_backend(path, backend_args=backend_args, enable_singleton=True)


def _call(path: str | Path, backend_args: dict | None, method: str, *args: Any) -> Any:
    backend = _backend(path, backend_args)
    function = getattr(backend, method, None)
    if function is None:
        raise NotImplementedError(f"{backend.name} does not support {method}() (for {path})")
    return function(*args)


def get(filepath: str | Path, backend_args: dict | None = None) -> bytes:
    """The file's bytes, from whichever storage its path names."""
    return _call(filepath, backend_args, "get", filepath)


def get_text(
    filepath: str | Path, encoding: str = "utf-8", backend_args: dict | None = None
) -> str:
    """The file's text."""
    return _call(filepath, backend_args, "get_text", filepath, encoding)


def put(obj: bytes, filepath: str | Path, backend_args: dict | None = None) -> None:
    """Writes bytes to the file (its directory is created)."""
    _call(filepath, backend_args, "put", obj, filepath)


def put_text(obj: str, filepath: str | Path, backend_args: dict | None = None) -> None:
    """Writes text to the file (its directory is created)."""
    _call(filepath, backend_args, "put_text", obj, filepath)


def exists(filepath: str | Path, backend_args: dict | None = None) -> bool:
    """Whether a file or directory exists there."""
    return _call(filepath, backend_args, "exists", filepath)


def isdir(filepath: str | Path, backend_args: dict | None = None) -> bool:
    """Whether it is a directory."""
    return _call(filepath, backend_args, "isdir", filepath)


def isfile(filepath: str | Path, backend_args: dict | None = None) -> bool:
    """Whether it is a file."""
    return _call(filepath, backend_args, "isfile", filepath)


def join_path(
    filepath: str | Path, *filepaths: str | Path, backend_args: dict | None = None
) -> str:
    """Joins path parts the way the storage does (``os.path.join`` locally, ``/`` in URLs)."""
    return _call(filepath, backend_args, "join_path", filepath, *filepaths)


@contextmanager
def get_local_path(
    filepath: str | Path, backend_args: dict | None = None
) -> Generator[str | Path, None, None]:
    """A local path to the file for the ``with`` block: the path itself when local, else a
    temporary copy that is deleted afterwards."""
    with _call(filepath, backend_args, "get_local_path", filepath) as local_path:
        yield local_path


def copyfile(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a file within one storage; returns where it went."""
    return _call(src, backend_args, "copyfile", src, dst)


def copytree(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a directory tree within one storage (``dst`` must not exist); returns ``dst``."""
    return _call(src, backend_args, "copytree", src, dst)


def copyfile_from_local(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a local file to the storage ``dst`` names."""
    return _call(dst, backend_args, "copyfile_from_local", src, dst)


def copytree_from_local(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a local directory tree to the storage ``dst`` names."""
    return _call(dst, backend_args, "copytree_from_local", src, dst)


def copyfile_to_local(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a file from the storage ``src`` names to a local path."""
    return _call(src, backend_args, "copyfile_to_local", src, dst)


def copytree_to_local(src: str | Path, dst: str | Path, backend_args: dict | None = None) -> str:
    """Copies a directory tree from the storage ``src`` names to a local path."""
    return _call(src, backend_args, "copytree_to_local", src, dst)


def remove(filepath: str | Path, backend_args: dict | None = None) -> None:
    """Removes a file."""
    _call(filepath, backend_args, "remove", filepath)


def rmtree(dir_path: str | Path, backend_args: dict | None = None) -> None:
    """Removes a directory and everything in it."""
    _call(dir_path, backend_args, "rmtree", dir_path)


def copy_if_symlink_fails(
    src: str | Path, dst: str | Path, backend_args: dict | None = None
) -> bool:
    """Links ``dst`` to ``src``, or copies where the storage cannot link.

    Returns:
        True when linked, False when copied.
    """
    return _call(src, backend_args, "copy_if_symlink_fails", src, dst)


def list_dir_or_file(
    dir_path: str | Path,
    list_dir: bool = True,
    list_file: bool = True,
    suffix: str | tuple[str, ...] | None = None,
    recursive: bool = False,
    backend_args: dict | None = None,
) -> Iterator[str]:
    """Yields the directories and/or files under ``dir_path``, relative to it (see
    :meth:`LocalBackend.list_dir_or_file`)."""
    return _call(
        dir_path, backend_args, "list_dir_or_file", dir_path, list_dir, list_file, suffix, recursive
    )


def generate_presigned_url(
    url: str,
    client_method: str = "get_object",
    expires_in: int = 3600,
    backend_args: dict | None = None,
) -> str:
    """A time-limited URL to an object in Petrel storage (other storages do not have them)."""
    return _call(url, backend_args, "generate_presigned_url", url, client_method, expires_in)
