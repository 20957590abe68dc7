"""MMEngine's older storage interface, ``FileClient`` (deprecated there in favour of the
functions of :mod:`torchrig.fileio.io`, kept for code that still uses it)."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torchrig.fileio.backends import (
    BaseStorageBackend,
    HTTPBackend,
    LmdbBackend,
    LocalBackend,
    MemcachedBackend,
    PetrelBackend,
)
from torchrig.fileio.io import _parse_uri_prefix
from torchrig.utils.path import is_filepath

__all__ = ["FileClient", "HardDiskBackend"]


class HardDiskBackend(LocalBackend):
    """The local disk (MMEngine's older name for :class:`LocalBackend`)."""

    def __init__(self) -> None:
        warnings.warn(
            "HardDiskBackend will be deprecated, please use LocalBackend instead",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__()

    @property
    def name(self) -> str:
        """``'HardDiskBackend'``."""
        return self.__class__.__name__


class FileClient:
    """Reads and writes files through one storage backend, picked by name or URI prefix.

    Instances are shared: the same backend, prefix and arguments give the same client.

    Args:
        backend: ``'disk'``, ``'memcached'``, ``'lmdb'``, ``'petrel'`` or ``'http'`` (or a
            name added with :meth:`register_backend`).
        prefix: A URI prefix that picks the backend (``'s3'``, ``'petrel'``, ``'http'``,
            ``'https'``) when ``backend`` is not given.
        **kwargs: The backend's arguments.

    Example:
        >>> client = FileClient('disk')
        >>> client.name
        'HardDiskBackend'
    """

    _backends: dict[str, type[BaseStorageBackend]] = {
        "disk": HardDiskBackend,
        "memcached": MemcachedBackend,
        "lmdb": LmdbBackend,
        "petrel": PetrelBackend,
        "http": HTTPBackend,
    }
    _prefix_to_backends: dict[str, type[BaseStorageBackend]] = {
        "s3": PetrelBackend,
        "petrel": PetrelBackend,
        "http": HTTPBackend,
        "https": HTTPBackend,
    }
    _instances: dict[str, FileClient] = {}

    client: Any

    def __new__(cls, backend: str | None = None, prefix: str | None = None, **kwargs: Any):
        warnings.warn(
            "FileClient will be deprecated in future. Please use the io functions of "
            "torchrig.fileio (get, put, get_file_backend, ...)",
            DeprecationWarning,
            stacklevel=2,
        )
        if backend is None and prefix is None:
            backend = "disk"
        if backend is not None and backend not in cls._backends:
            raise ValueError(
                f"Backend {backend} is not supported. Currently supported ones are "
                f"{list(cls._backends.keys())}"
            )
        if prefix is not None and prefix not in cls._prefix_to_backends:
            raise ValueError(
                f"prefix {prefix} is not supported. Currently supported ones are "
                f"{list(cls._prefix_to_backends.keys())}"
            )
        arg_key = f"{backend}:{prefix}" + "".join(f":{k}:{v}" for k, v in kwargs.items())
        if arg_key in cls._instances:
            return cls._instances[arg_key]
        instance = super().__new__(cls)
        backend_cls = (
            cls._backends[backend] if backend is not None else cls._prefix_to_backends[prefix]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            instance.client = backend_cls(**kwargs)
        cls._instances[arg_key] = instance
        return instance

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.client.name

    @property
    def allow_symlink(self) -> bool:
        """Whether the backend's storage can hold symbolic links."""
        return self.client.allow_symlink

    @staticmethod
    def parse_uri_prefix(uri: str | Path) -> str | None:
        """The URI's prefix (``'s3'``), or None for a local path."""
        if not is_filepath(uri):
            raise TypeError(f"uri should be a str or Path, got {type(uri).__name__}")
        return _parse_uri_prefix(uri) or None

    @classmethod
    def infer_client(
        cls, file_client_args: dict | None = None, uri: str | Path | None = None
    ) -> FileClient:
        """The client that ``file_client_args`` asks for, else the one ``uri``'s prefix picks."""
        if file_client_args is None and uri is None:
            raise ValueError("infer_client needs file_client_args or uri")
        if file_client_args is None:
            return cls(prefix=cls.parse_uri_prefix(uri))  # type: ignore[arg-type]
        return cls(**file_client_args)

    @classmethod
    def _register_backend(
        cls,
        name: str,
        backend: type[BaseStorageBackend],
        force: bool = False,
        prefixes: str | list[str] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"the backend name should be a string, but got {type(name)}")
        if not inspect.isclass(backend) or not issubclass(backend, BaseStorageBackend):
            raise TypeError(f"backend {backend} is not a subclass of BaseStorageBackend")
        if name in cls._backends and not force:
            raise ValueError(
                f'{name} is already registered as a storage backend, add "force=True" if you '
                "want to override it"
            )
        if name in cls._backends and force:
            for key in [k for k in cls._instances if k.startswith(f"{name}:")]:
                del cls._instances[key]
        cls._backends[name] = backend
        prefixes = [prefixes] if isinstance(prefixes, str) else (prefixes or [])
        for prefix in prefixes:
            if prefix in cls._prefix_to_backends and not force:
                raise ValueError(
                    f"{prefix} is already registered as a storage backend prefix, add "
                    '"force=True" if you want to override it'
                )
            cls._prefix_to_backends[prefix] = backend

    @classmethod
    def register_backend(
        cls,
        name: str,
        backend: type[BaseStorageBackend] | None = None,
        force: bool = False,
        prefixes: str | list[str] | None = None,
    ) -> Callable | None:
        """Adds a backend under a name (and prefixes); usable as a class decorator."""
        if backend is not None:
            cls._register_backend(name, backend, force=force, prefixes=prefixes)
            return None

        def _register(backend_cls: type[BaseStorageBackend]) -> type[BaseStorageBackend]:
            cls._register_backend(name, backend_cls, force=force, prefixes=prefixes)
            return backend_cls

        return _register

    def get(self, filepath: str | Path) -> bytes | memoryview:
        """The file's bytes."""
        return self.client.get(filepath)

    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """The file's text."""
        return self.client.get_text(filepath, encoding)

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Writes bytes."""
        self.client.put(obj, filepath)

    def put_text(self, obj: str, filepath: str | Path) -> None:
        """Writes text."""
        self.client.put_text(obj, filepath)

    def remove(self, filepath: str | Path) -> None:
        """Removes a file."""
        self.client.remove(filepath)

    def exists(self, filepath: str | Path) -> bool:
        """Whether it exists."""
        return self.client.exists(filepath)

    def isdir(self, filepath: str | Path) -> bool:
        """Whether it is a directory."""
        return self.client.isdir(filepath)

    def isfile(self, filepath: str | Path) -> bool:
        """Whether it is a file."""
        return self.client.isfile(filepath)

    def join_path(self, filepath: str | Path, *filepaths: str | Path) -> str:
        """Joins path parts the way the storage does."""
        return self.client.join_path(filepath, *filepaths)

    @contextmanager
    def get_local_path(self, filepath: str | Path) -> Generator[str | Path, None, None]:
        """A local path to the file for the ``with`` block."""
        with self.client.get_local_path(str(filepath)) as local_path:
            yield local_path

    def list_dir_or_file(
        self,
        dir_path: str | Path,
        list_dir: bool = True,
        list_file: bool = True,
        suffix: str | tuple[str, ...] | None = None,
        recursive: bool = False,
    ) -> Iterator[str]:
        """Yields directories and/or files under ``dir_path``, relative to it."""
        yield from self.client.list_dir_or_file(dir_path, list_dir, list_file, suffix, recursive)
