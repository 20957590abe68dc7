"""Files cached in memcached (MMEngine's ``mmengine.fileio.backends.memcached_backend``)."""

from __future__ import annotations

import sys
from pathlib import Path

from torchrig.fileio.backends.base import BaseStorageBackend

__all__ = ["MemcachedBackend"]


class MemcachedBackend(BaseStorageBackend):
    """Reads files through SenseTime's memcached client ``mc`` (as MMEngine does).

    Args:
        server_list_cfg: The memcached server list file.
        client_cfg: The client config file.
        sys_path: A directory to add to ``sys.path`` before importing ``mc``.

    Raises:
        ImportError: When the ``mc`` package is not installed.
    """

    def __init__(self, server_list_cfg: str, client_cfg: str, sys_path: str | None = None) -> None:
        if sys_path is not None:
            sys.path.append(sys_path)
        try:
            import mc
        except ImportError as err:
            raise ImportError(
                "MemcachedBackend needs SenseTime's memcached client package `mc` "
                "(with its server list and client config); it is not installed"
            ) from err
        self.server_list_cfg = server_list_cfg
        self.client_cfg = client_cfg
        self._client = mc.MemcachedClient.GetInstance(self.server_list_cfg, self.client_cfg)
        self._mc_buffer = mc.pyvector()

    def get(self, filepath: str | Path) -> bytes:
        """The cached file's bytes."""
        import mc

        self._client.Get(str(filepath), self._mc_buffer)
        return mc.ConvertBuffer(self._mc_buffer)

    def get_text(self, filepath: str | Path, encoding: str = "utf-8") -> str:
        """Not supported, as in MMEngine."""
        raise NotImplementedError("MemcachedBackend reads bytes; use get() and decode them")
