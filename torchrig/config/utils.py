"""Constants, the config error type and small helpers shared by the config modules."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

__all__ = [
    "BASE_KEY",
    "MODULE2PACKAGE",
    "DELETE_KEY",
    "RESERVED_KEYS",
    "ConfigKeyError",
    "ConfigParsingError",
    "import_custom_modules",
    "is_builtin_module",
]

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
RESERVED_KEYS = ("filename", "text", "pretty_text", "env_variables")

# OpenMMLab module name -> the pip package that installs it (``mmseg`` is ``mmsegmentation``).
MODULE2PACKAGE = {
    "mmcls": "mmcls",
    "mmdet": "mmdet",
    "mmdet3d": "mmdet3d",
    "mmseg": "mmsegmentation",
    "mmaction": "mmaction2",
    "mmtrack": "mmtrack",
    "mmpose": "mmpose",
    "mmedit": "mmedit",
    "mmocr": "mmocr",
    "mmgen": "mmgen",
    "mmfewshot": "mmfewshot",
    "mmrazor": "mmrazor",
    "mmflow": "mmflow",
    "mmhuman3d": "mmhuman3d",
    "mmrotate": "mmrotate",
    "mmselfsup": "mmselfsup",
    "mmyolo": "mmyolo",
    "mmpretrain": "mmpretrain",
    "mmagic": "mmagic",
}


class ConfigParsingError(RuntimeError):
    """A config file could not be read; the message names the file and, where known, the key."""


class ConfigKeyError(ConfigParsingError, KeyError):
    """A key of a config is missing, clashes or does not fit; also a ``KeyError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def is_builtin_module(module_name: str) -> bool:
    """Whether ``module_name`` belongs to Python's standard library (imported eagerly)."""
    top = module_name.split(".")[0]
    return top in sys.stdlib_module_names or top in sys.builtin_module_names


def import_custom_modules(
    imports: str | Iterable[str], allow_failed_imports: bool = False, filename: str | None = None
) -> None:
    """Import the modules named by a config's ``custom_imports``.

    Args:
        imports: A module name or a list of them.
        allow_failed_imports: Warn instead of raising when a module cannot be imported.
        filename: The config file, named in the error.
    """
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, (list, tuple)):
        raise TypeError(
            f"custom_imports.imports must be a list of module names, got {type(imports).__name__}"
            + (f" (config file {filename})" if filename else "")
        )
    for name in imports:
        if not isinstance(name, str):
            raise TypeError(f"custom_imports.imports must hold strings, got {name!r}")
        try:
            importlib.import_module(name)
        except ImportError as e:
            if not allow_failed_imports:
                where = f" listed in custom_imports of {filename}" if filename else ""
                raise ImportError(f"Failed to import module {name!r}{where}: {e}") from e
            import warnings

            warnings.warn(f"{name} failed to import and is ignored.", UserWarning, stacklevel=2)
