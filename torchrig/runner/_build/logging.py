"""Building the run's logger, message hub and log processor."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.logging import MessageHub, MMLogger
    from torchrig.runner.log_processor import LogProcessor

__all__ = ["build_log_processor", "build_logger", "build_message_hub"]


def build_logger(name: str, log_file: str, log_level: int | str = "INFO", **kwargs: Any) -> MMLogger:
    """The run's logger: console plus ``log_file`` (appended to).

    Args:
        name: The logger instance's name (the experiment name).
        log_file: ``work_dir/<timestamp>/<timestamp>.log``.
        log_level: The level of both outputs.
        **kwargs: More ``MMLogger.get_instance`` arguments.
    """
    from torchrig.logging import MMLogger

    kwargs.setdefault("file_mode", "a")
    return MMLogger.get_instance(name=name, log_file=log_file, log_level=log_level, **kwargs)


def build_message_hub(name: str, message_hub: dict | None = None) -> MessageHub:
    """The run's message hub (a named global instance, so hooks and models find it).

    Args:
        name: The instance's name (the experiment name).
        message_hub: More ``MessageHub.get_instance`` arguments.
    """
    from torchrig.logging import MessageHub

    cfg = dict(message_hub or {})
    cfg.setdefault("name", name)
    return MessageHub.get_instance(**cfg)


def build_log_processor(log_processor: Any) -> LogProcessor:
    """Builds the log processor from an object or config (``type`` through LOG_PROCESSORS).

    Args:
        log_processor: A ``LogProcessor``, a config dict, or None for the defaults.
    """
    from torchrig.registry import LOG_PROCESSORS
    from torchrig.runner.log_processor import LogProcessor

    if isinstance(log_processor, LogProcessor):
        return log_processor
    if log_processor is None:
        return LogProcessor()
    if not isinstance(log_processor, dict):
        raise TypeError(
            f"log_processor must be a LogProcessor or a dict, got {type(log_processor).__name__}"
        )
    cfg = copy.deepcopy(dict(log_processor))
    if "type" in cfg:
        return LOG_PROCESSORS.build(cfg)
    return LogProcessor(**cfg)
