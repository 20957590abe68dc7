"""Storage backends (MMEngine's ``mmengine.fileio.backends``): local files and HTTP work
here; LMDB, memcached and Petrel need their client packages and say so when used."""

from __future__ import annotations

from torchrig.fileio.backends.base import BaseStorageBackend
from torchrig.fileio.backends.http_backend import HTTPBackend
from torchrig.fileio.backends.lmdb_backend import LmdbBackend
from torchrig.fileio.backends.local_backend import LocalBackend
from torchrig.fileio.backends.memcached_backend import MemcachedBackend
from torchrig.fileio.backends.petrel_backend import PetrelBackend
from torchrig.fileio.backends.registry_utils import (
    backends,
    prefix_to_backends,
    register_backend,
)

__all__ = [
    "BaseStorageBackend",
    "HTTPBackend",
    "LmdbBackend",
    "LocalBackend",
    "MemcachedBackend",
    "PetrelBackend",
    "backends",
    "prefix_to_backends",
    "register_backend",
]
