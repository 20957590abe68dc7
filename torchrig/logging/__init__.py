"""Logging: ``MMLogger``/``print_log``, ``MessageHub`` and ``HistoryBuffer`` (as MMEngine's)."""

from __future__ import annotations

from torchrig.logging.history_buffer import HistoryBuffer
from torchrig.logging.logger import MMFormatter, MMLogger, print_log
from torchrig.logging.message_hub import MessageHub

__all__ = ["HistoryBuffer", "MMFormatter", "MMLogger", "MessageHub", "print_log"]
