"""torchrig: a PyTorch training engine with MMEngine's API and experiment tracking built in.

Importing ``torchrig`` is cheap: subpackages (``torchrig.runner``, ``torchrig.config``, ...) are
imported when first used, so ``import torchrig`` alone loads neither torch nor any tracker.
"""

from __future__ import annotations

import importlib
from typing import Any

from torchrig.version import __version__

__all__ = ["__version__"]

_SUBPACKAGES = frozenset(
    {
        "cli",
        "config",
        "dataset",
        "dist",
        "evaluator",
        "fileio",
        "hooks",
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


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"torchrig.{name}")
    raise AttributeError(f"module 'torchrig' has no attribute {name!r}")
