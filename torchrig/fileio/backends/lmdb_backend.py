"""Values in an LMDB database (MMEngine's ``mmengine.fileio.backends.lmdb_backend``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchrig.fileio.backends.base import BaseStorageBackend

__all__ = ["LmdbBackend"]


class LmdbBackend(BaseStorageBackend):
    """Reads values from an LMDB database by key (the "file path" is the key). Needs ``lmdb``.

    Args:
        db_path: The database's directory.
        readonly: Open read-only.
        lock: Use LMDB's lock.
        readahead: Let the OS read ahead.
        **kwargs: Passed to ``lmdb.open``.

    Raises:
        ImportError: When ``lmdb`` is not installed.
    """

    def __init__(
        self,
        db_path: str | Path,
        readonly: bool = True,
        lock: bool = False,
        readahead: bool = False,
        **kwargs: Any,
    ) -> None:
        try:
            import lmdb  # noqa: F401
        except ImportError as err:
            raise ImportError("LmdbBackend needs lmdb: pip install lmdb") from err
        self.db_path = str(db_path)
        self.readonly = readonly
        self.lock = lock
        self.readahead = readahead
        self.kwargs = kwargs
        self._client = None

    def get(self, filepath: str | Path) -> bytes | None:
        """The value stored under the key ``filepath`` (None when absent)."""
        if self._client is None:
            import lmdb

            self._client = lmdb.open(
                self.db_path,
                readonly=self.readonly,
                lock=self.lock,
                readahead=self.readahead,
                **self.kwargs,
            )
        with self._client.begin(write=False) as txn:
            return txn.get(str(filepath).encode("ascii"))

    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """Not supported: LMDB holds bytes."""
        raise NotImplementedError("LmdbBackend stores bytes; use get() and decode them")

    def __del__(self) -> None:
        if getattr(self, "_client", None) is not None:
            self._client.close()
