"""The storage backend interface (MMEngine's ``mmengine.fileio.backends.base``)."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from pathlib import Path

__all__ = ["BaseStorageBackend"]


class BaseStorageBackend(metaclass=ABCMeta):
    """Reads files from somewhere: a local disk, an HTTP server, a key-value store.

    A backend implements at least :meth:`get` (bytes) and :meth:`get_text` (str).
    """

    # Whether copy_if_symlink_fails can make symbolic links on this storage.
    _allow_symlink = False

    @property
    def name(self) -> str:
        """The backend's class name."""
        return self.__class__.__name__

    @property
    def allow_symlink(self) -> bool:
        """Whether this storage can hold symbolic links."""
        return self._allow_symlink

    @abstractmethod
    def get(self, filepath: str | Path) -> bytes:
        """The file's content as bytes."""

    @abstractmethod
    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """The file's content as text."""
