"""Logging for the model package, through torchrig's current logger."""

from __future__ import annotations

import logging

from torchrig.logging import print_log

__all__: list[str] = []


def _print_log(msg: str, level: int = logging.INFO) -> None:
    """Log ``msg`` through the current ``MMLogger`` (``logger='current'``)."""
    print_log(msg, logger="current", level=level)
