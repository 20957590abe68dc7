"""Mixed-precision context (``mmengine.runner.amp.autocast``)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

import torch

__all__ = ["autocast"]


@contextmanager
def autocast(
    device_type: str | None = None,
    dtype: torch.dtype | None = None,
    enabled: bool = True,
    cache_enabled: bool | None = None,
) -> Generator[None, None, None]:
    """Runs the body under ``torch.autocast`` for the current device.

    Args:
        device_type: ``'cuda'``, ``'cpu'``, ...; defaults to CUDA when available, else CPU.
        dtype: The low-precision dtype; torch's default for the device when None
            (float16 on CUDA, bfloat16 on CPU).
        enabled: When False the body runs in full precision.
        cache_enabled: Whether autocast caches weight casts; torch's default when None.
    """
    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    kwargs: dict[str, object] = {"enabled": enabled}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if cache_enabled is not None:
        kwargs["cache_enabled"] = cache_enabled
    with torch.autocast(device_type=device_type, **kwargs):  # type: ignore[arg-type]
        yield
