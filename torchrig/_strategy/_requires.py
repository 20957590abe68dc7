"""The check shared by strategies that drive another training engine (DeepSpeed, ColossalAI)."""

from __future__ import annotations

import importlib.util

__all__ = ["unavailable_engine"]


def unavailable_engine(strategy: str, package: str, install: str, instead: str) -> Exception:
    """The one error a strategy on an engine torchrig does not drive raises when built.

    Args:
        strategy: The strategy's class name.
        package: The engine's import name.
        install: How to install it.
        instead: What on PyTorch's own engine does the same job.
    """
    if importlib.util.find_spec(package) is None:
        return ImportError(
            f"{strategy} needs the {package!r} package, which is not installed ({install}). "
            f"On PyTorch's own engine, {instead}"
        )
    return NotImplementedError(
        f"{strategy}: {package!r} is installed, but torchrig trains on PyTorch's own engine "
        f"only and does not drive {package}'s. {instead}"
    )
