"""Files in SenseTime's Petrel object storage (MMEngine's ``mmengine.fileio.backends.petrel_backend``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchrig.fileio.backends.base import BaseStorageBackend

__all__ = ["PetrelBackend"]

_NEEDS = (
    "PetrelBackend needs SenseTime's petrel_client package (petrel-oss-sdk), which is not "
    "installed; torchrig does not provide it"
)


class PetrelBackend(BaseStorageBackend):
    """Petrel (``petrel://`` and ``s3://``) object storage through ``petrel_client``.

    torchrig has no Petrel implementation of its own: without ``petrel_client`` creating the
    backend raises ``ImportError``; with it, the methods call the client's documented ``Get``,
    ``Put``, ``contains``, ``isdir``, ``delete`` and ``generate_presigned_url``.

    Args:
        path_mapping: Path prefixes to replace (``{'src': 'dst'}``) before each request.
        enable_mc: Use memcached through the client.
        conf_path: The client's config file.
    """

    def __init__(
        self,
        path_mapping: dict[str, str] | None = None,
        enable_mc: bool = True,
        conf_path: str | None = None,
    ) -> None:
        try:
            from petrel_client import client
        except ImportError as err:
            raise ImportError(_NEEDS) from err
        self._client = client.Client(conf_path=conf_path, enable_mc=enable_mc)
        if path_mapping is not None and not isinstance(path_mapping, dict):
            raise TypeError(f"path_mapping must be a dict or None, got {path_mapping!r}")
        self.path_mapping = path_mapping

    def _map_path(self, filepath: str | Path) -> str:
        filepath = str(filepath)
        for src, dst in (self.path_mapping or {}).items():
            filepath = filepath.replace(src, dst, 1)
        return filepath

    def get(self, filepath: str | Path) -> bytes:
        """The object's bytes."""
        return memoryview(self._client.Get(self._map_path(filepath))).tobytes()

    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """The object's text."""
        return self.get(filepath).decode(encoding)

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Writes bytes to the object."""
        self._client.put(self._map_path(filepath), obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = "utf-8") -> None:
        """Writes text to the object."""
        self.put(obj.encode(encoding), filepath)

    def exists(self, filepath: str | Path) -> bool:
        """Whether the object (or prefix) exists."""
        path = self._map_path(filepath)
        return self._client.contains(path) or self._client.isdir(path)

    def isdir(self, filepath: str | Path) -> bool:
        """Whether it is a prefix ("directory")."""
        return self._client.isdir(self._map_path(filepath))

    def isfile(self, filepath: str | Path) -> bool:
        """Whether it is an object."""
        return self._client.contains(self._map_path(filepath))

    def join_path(self, filepath: str | Path, *filepaths: str | Path) -> str:
        """Joins with ``/``."""
        path = str(filepath).rstrip("/")
        return "/".join([path, *(str(p).strip("/") for p in filepaths)])

    def remove(self, filepath: str | Path) -> None:
        """Deletes the object."""
        self._client.delete(self._map_path(filepath))

    def generate_presigned_url(
        self, url: str, client_method: str = "get_object", expires_in: int = 3600
    ) -> str:
        """A URL that grants access to the object for ``expires_in`` seconds."""
        return self._client.generate_presigned_url(self._map_path(url), client_method, expires_in)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"PetrelBackend has no {name!r}: torchrig implements get, get_text, put, put_text, "
            "exists, isdir, isfile, join_path, remove and generate_presigned_url for Petrel"
        )
