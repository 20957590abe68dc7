"""The ``mmengine`` alias's machinery (public API: :mod:`torchrig.compat`).

Kept apart from ``torchrig.compat`` so that ``python -m torchrig.compat`` runs that module fresh
while the alias state (switched on at ``import torchrig`` by ``TORCHRIG_MMENGINE_ALIAS``) lives
here, once.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from types import ModuleType
from typing import Any

from torchrig.version import MMENGINE_API_VERSION, parse_version_info

__all__ = ["alias_mmengine", "is_aliased", "remove_alias"]

_ALIAS = "mmengine"
_TARGET = "torchrig"
_ENV = "TORCHRIG_MMENGINE_ALIAS"
_MMENGINE_VERSION_INFO = parse_version_info(MMENGINE_API_VERSION)
# The aliased modules that differ from torchrig's: they carry MMEngine's version.
_VERSIONED = frozenset({_ALIAS, f"{_ALIAS}.version"})


class _VersionedModule(ModuleType):
    """``mmengine`` or ``mmengine.version``: torchrig's module with MMEngine's version."""

    def __init__(self, name: str, target: ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__file__ = target.__file__
        if hasattr(target, "__path__"):
            self.__path__: list[str] = []  # a package; the alias finder finds its submodules
        self.__version__ = MMENGINE_API_VERSION
        self.version_info = _MMENGINE_VERSION_INFO
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(self._target, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._target)))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        try:
            module = importlib.import_module(self.target)
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f"{spec.name!r} is aliased to {self.target!r}, which torchrig does not have "
                f"({err}); see docs/migrating.md for where its contents live",
                name=spec.name,
            ) from err
        if spec.name in _VERSIONED:
            module = _VersionedModule(spec.name, module)
        self._original_spec = module.__spec__
        sys.modules[spec.name] = module
        # Alias the target's submodules already loaded (its __init__ imported them): importing
        # one through the alias later then finds it in sys.modules, instead of loading it anew
        # and rebinding the parent's attribute of that name (``dl_utils.collect_env``, a
        # function the package re-exports, would become the submodule).
        prefix = self.target + "."
        for name, loaded in list(sys.modules.items()):
            alias = spec.name + name[len(self.target) :]
            if name.startswith(prefix) and alias not in _VERSIONED:
                sys.modules.setdefault(alias, loaded)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The target is already executed; importlib has just stamped the alias's spec on it,
        # so put the module's own spec back (a versioned module keeps the alias's).
        if not isinstance(module, _VersionedModule):
            module.__spec__ = self._original_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        mapped = _TARGET + fullname[len(_ALIAS) :]
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(mapped), is_package=True)


_finder = _AliasFinder()
_warned_shadowing = False


def is_aliased() -> bool:
    """Whether ``mmengine`` currently resolves to torchrig."""
    return _finder in sys.meta_path


def _real_mmengine() -> str | None:
    """Where the real mmengine is installed (None when it is not)."""
    if is_aliased():
        return None
    spec = importlib.util.find_spec(_ALIAS)
    return None if spec is None else (spec.origin or str(spec.submodule_search_locations))


def alias_mmengine() -> None:
    """Makes ``import mmengine`` (and its submodules) resolve to torchrig.

    An installed (but not yet imported) real ``mmengine`` is shadowed, with one warning.

    Raises:
        RuntimeError: When the real ``mmengine`` was already imported in this process.
    """
    global _warned_shadowing
    if is_aliased():
        return
    existing = sys.modules.get(_ALIAS)
    if existing is not None:
        raise RuntimeError(
            f"the real mmengine ({getattr(existing, '__file__', existing)}) was already imported "
            "in this process, so torchrig cannot alias mmengine without mixing the two: switch "
            f"the alias on first ({_ENV}=1 or torchrig.compat.alias_mmengine() before anything "
            "imports mmengine), or change the imports to torchrig"
        )
    real = _real_mmengine()
    if real is not None and not _warned_shadowing:
        _warned_shadowing = True
        warnings.warn(
            f"torchrig's mmengine alias takes precedence over the real mmengine installed at "
            f"{real}: 'import mmengine' now gives torchrig (MMEngine API "
            f"{MMENGINE_API_VERSION})",
            UserWarning,
            stacklevel=2,
        )
    sys.meta_path.insert(0, _finder)


def remove_alias() -> None:
    """Undoes ``alias_mmengine`` and forgets the aliased modules."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        del sys.modules[name]


def _alias_from_environment() -> None:
    """Switches the alias on when ``TORCHRIG_MMENGINE_ALIAS`` says so (at ``import torchrig``).

    Never makes ``import torchrig`` fail: what stops the alias is a warning here.
    """
    if os.environ.get(_ENV, "").lower() not in ("1", "true", "yes"):
        return
    try:
        alias_mmengine()
    except RuntimeError as err:
        warnings.warn(f"{_ENV} is set but the alias is off: {err}", UserWarning, stacklevel=3)
