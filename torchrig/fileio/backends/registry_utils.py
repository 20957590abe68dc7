"""The storage backends by name and by URI prefix (MMEngine's ``registry_utils``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torchrig.fileio.backends.base import BaseStorageBackend
from torchrig.fileio.backends.http_backend import HTTPBackend
from torchrig.fileio.backends.lmdb_backend import LmdbBackend
from torchrig.fileio.backends.local_backend import LocalBackend
from torchrig.fileio.backends.memcached_backend import MemcachedBackend
from torchrig.fileio.backends.petrel_backend import PetrelBackend

__all__ = ["backends", "prefix_to_backends", "register_backend"]

backends: dict[str, type[BaseStorageBackend]] = {}
prefix_to_backends: dict[str, type[BaseStorageBackend]] = {}


def _register_backend(
    name: str,
    backend: type[BaseStorageBackend],
    force: bool = False,
    prefixes: str | list[str] | tuple[str, ...] | None = None,
) -> None:
    if not isinstance(name, str):
        raise TypeError(f"the backend name should be a string, but got {type(name)}")
    if not inspect.isclass(backend):
        raise TypeError(f"backend should be a class, but got {type(backend)}")
    if not issubclass(backend, BaseStorageBackend):
        raise TypeError(f"backend {backend} is not a subclass of BaseStorageBackend")
    if name in backends and not force:
        raise ValueError(
            f'{name} is already registered as a storage backend, add "force=True" if you '
            "want to override it"
        )
    if prefixes is not None:
        prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        taken = [prefix for prefix in prefixes if prefix in prefix_to_backends]
        if taken and not force:
            raise ValueError(
                f'{taken} are already registered as storage backend prefixes, add "force=True" '
                "if you want to override them"
            )
    backends[name] = backend
    for prefix in prefixes or ():
        prefix_to_backends[prefix] = backend


def register_backend(
    name: str,
    backend: type[BaseStorageBackend] | None = None,
    force: bool = False,
    prefixes: str | list[str] | tuple[str, ...] | None = None,
) -> Callable | None:
    """Registers a storage backend under a name and, optionally, URI prefixes.

    Use it as a function (``register_backend('mine', MyBackend)``) or as a class decorator
    (``@register_backend('mine')``).

    Args:
        name: The name ``backend_args=dict(backend=name)`` selects.
        backend: The backend class (a :class:`BaseStorageBackend` subclass).
        force: Replace a backend already registered under the name or prefixes.
        prefixes: URI prefixes (``'s3'`` for ``s3://...``) that select it.

    Returns:
        The decorator when ``backend`` is None.
    """
    if backend is not None:
        _register_backend(name, backend, force=force, prefixes=prefixes)
        return None

    def _register(backend_cls: type[BaseStorageBackend]) -> type[BaseStorageBackend]:
        _register_backend(name, backend_cls, force=force, prefixes=prefixes)
        return backend_cls

    return _register


register_backend("local", LocalBackend, prefixes="")
register_backend("memcached", MemcachedBackend)
register_backend("lmdb", LmdbBackend)
# 's3' selects Petrel too, as in MMEngine.
register_backend("petrel", PetrelBackend, prefixes=["petrel", "s3"])
register_backend("http", HTTPBackend, prefixes=["http", "https"])
