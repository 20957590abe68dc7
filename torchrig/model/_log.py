"""Logging for the model package, through torchrig's current logger."""

from __future__ import annotations

import logging

__all__: list[str] = []


def _print_log(msg: str, level: int = logging.INFO) -> None:
    """Log ``msg`` through the current ``MMLogger`` (``logger='current'``).

    Falls back on the standard ``torchrig`` logger while ``torchrig.logging`` is not importable,
    so the model package never fails because logging is unavailable.
    """
    try:
        from torchrig.logging import print_log
    except ImportError:
        logging.getLogger("torchrig").log(level, msg)
        return
    print_log(msg, logger="current", level=level)
