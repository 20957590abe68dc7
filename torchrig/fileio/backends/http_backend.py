"""Files served over HTTP(S) (MMEngine's ``mmengine.fileio.backends.http_backend``)."""

from __future__ import annotations

import os
from collections.abc import Generator
from contextlib import contextmanager

from torchrig.fileio.backends.base import BaseStorageBackend

__all__ = ["HTTPBackend"]


class HTTPBackend(BaseStorageBackend):
    """Reads files from ``http://`` and ``https://`` URLs with :mod:`urllib` (read-only)."""

    def get(self, filepath: str) -> bytes:
        """The bytes at the URL."""
        from urllib.request import urlopen  # imported on use: urllib.request is slow to import

        with urlopen(filepath) as response:
            return response.read()

    def get_text(self, filepath: str, encoding: str = "utf-8") -> str:
        """The text at the URL, decoded with ``encoding``."""
        return self.get(filepath).decode(encoding)

    @contextmanager
    def get_local_path(self, filepath: str) -> Generator[str, None, None]:
        """Downloads the URL to a temporary file, yields its path, then deletes it."""
        import tempfile

        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(self.get(filepath))
        try:
            yield f.name
        finally:
            os.remove(f.name)
