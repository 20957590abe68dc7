"""An opt-in ``mmengine`` alias, for codebases that cannot change their imports.

After ``alias_mmengine()`` (or with ``TORCHRIG_MMENGINE_ALIAS=1`` set before ``import torchrig``),
``import mmengine`` and ``from mmengine.x.y import Z`` resolve to ``torchrig``, ``torchrig.x.y``.
A script that cannot be edited at all runs aliased with::

    python -m torchrig.compat tools/train.py configs/my_config.py --work-dir work_dirs/x

It refuses while the real MMEngine is installed, so the two can never be mixed up silently.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

__all__ = ["alias_mmengine", "is_aliased", "remove_alias"]

_ALIAS = "mmengine"
_TARGET = "torchrig"


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
        sys.modules[spec.name] = module
        # Alias the target's submodules already loaded (its __init__ imported them): importing
        # one through the alias later then finds it in sys.modules, instead of loading it anew
        # and rebinding the parent's attribute of that name (``dl_utils.collect_env``, a
        # function the package re-exports, would become the submodule).
        prefix = self.target + "."
        for name, loaded in list(sys.modules.items()):
            if name.startswith(prefix):
                sys.modules.setdefault(spec.name + name[len(self.target) :], loaded)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The target is already executed; importlib has just stamped the alias's spec on it,
        # so put the module's own spec back.
        module.__spec__ = self._original_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        mapped = _TARGET + fullname[len(_ALIAS) :]
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(mapped), is_package=True)


_finder = _AliasFinder()


def is_aliased() -> bool:
    """Whether ``mmengine`` currently resolves to torchrig."""
    return _finder in sys.meta_path


def alias_mmengine() -> None:
    """Makes ``import mmengine`` (and its submodules) resolve to torchrig.

    Raises:
        RuntimeError: When the real ``mmengine`` is installed or already imported.
    """
    if is_aliased():
        return
    existing = sys.modules.get(_ALIAS)
    if existing is not None or importlib.util.find_spec(_ALIAS) is not None:
        where = getattr(existing, "__file__", None) or importlib.util.find_spec(_ALIAS).origin
        raise RuntimeError(
            f"the real mmengine is installed ({where}); torchrig will not alias over it. "
            "Uninstall it (pip uninstall mmengine) or change the imports to torchrig"
        )
    sys.meta_path.insert(0, _finder)


def remove_alias() -> None:
    """Undoes ``alias_mmengine`` and forgets the aliased modules."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        del sys.modules[name]


def _run_script(argv: list[str]) -> None:
    """Runs a Python script with ``mmengine`` aliased, as ``python script.py args`` would."""
    import runpy

    if not argv:
        raise SystemExit("usage: python -m torchrig.compat SCRIPT [ARGS ...]")
    alias_mmengine()
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    _run_script(sys.argv[1:])
