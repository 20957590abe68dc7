"""torchrig: a PyTorch training engine with MMEngine's API and experiment tracking built in.

Importing ``torchrig`` is cheap: subpackages (``torchrig.runner``, ``torchrig.config``, ...) are
imported when first used, so ``import torchrig`` alone loads neither torch nor any tracker.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from torchrig.version import __version__

__all__ = ["__version__"]

_SUBPACKAGES = frozenset(
    {
        "analysis",
        "cli",
        "compat",
        "config",
        "dataset",
        "dist",
        "evaluator",
        "fileio",
        "hooks",
        "infer",
        "logging",
        "model",
        "optim",
        "registry",
        "runner",
        "structures",
        "testing",
        "utils",
        "visualization",
    }
)


# MMEngine re-exports these packages' names at its top level (``mmengine.Config``,
# ``from mmengine import dump``); so does torchrig, each imported on first use.
_REEXPORTED_FROM = ("config", "fileio", "logging", "registry", "utils")


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"torchrig.{name}")
    if not name.startswith("_"):
        for package in _REEXPORTED_FROM:
            module = importlib.import_module(f"torchrig.{package}")
            if name in getattr(module, "__all__", ()):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'torchrig' has no attribute {name!r}")


if os.environ.get("TORCHRIG_MMENGINE_ALIAS", "").lower() in ("1", "true", "yes"):
    from torchrig.compat import alias_mmengine

    alias_mmengine()
