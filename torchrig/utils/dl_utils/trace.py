"""Tracing checks (MMEngine's ``mmengine.utils.dl_utils.trace``)."""

from __future__ import annotations

import torch

__all__ = ["is_jit_tracing"]


def is_jit_tracing() -> bool:
    """Whether the code runs under ``torch.jit.trace``."""
    return torch.jit.is_tracing()
