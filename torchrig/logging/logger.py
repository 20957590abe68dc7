"""``MMLogger`` and ``print_log`` (``mmengine.logging.logger``).

Lines read ``11/25 19:50:19 - torchrig - INFO - message`` on the console and
``2026/11/25 19:50:19 - torchrig - INFO - message`` in the log file. In a distributed run only
rank 0 writes below ERROR to the console and only rank 0 writes the file, unless
``distributed=True`` asks every rank for its own file.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from logging import Logger, LogRecord
from typing import Any

from torchrig.utils import ManagerMixin

__all__ = ["FilterDuplicateWarning", "MMFormatter", "MMLogger", "print_log"]

_DEFAULT_NAME = "torchrig"

_COLORS = {"ERROR": "31", "CRITICAL": "31", "WARNING": "33", "INFO": "37", "DEBUG": "32"}


def _rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` without importing torch when it is not in use."""
    torch_dist = sys.modules.get("torch.distributed")
    if torch_dist is not None and torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_rank(), torch_dist.get_world_size()
    # Before init_dist, torchrun's variables already tell which process this is.
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class MMFormatter(logging.Formatter):
    """``asctime - logger name - LEVEL - message``; errors add the place they came from.

    Args:
        color: Colour the level name (for terminals).
        blink: Make warning and error level names blink (needs ``color``).
        **kwargs: Passed to ``logging.Formatter`` (e.g. ``datefmt``).
    """

    def __init__(self, color: bool = True, blink: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if blink and not color:
            raise ValueError("MMFormatter: blink=True needs color=True")
        self._formats = {}
        for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            name = level
            if color:
                attrs = _COLORS[level] + (";5" if blink and level in ("WARNING", "ERROR") else "")
                name = f"\033[{attrs}m{level}\033[0m"
            fmt = f"%(asctime)s - %(name)s - {name} - "
            if level in ("ERROR", "CRITICAL"):
                fmt += "%(pathname)s - %(funcName)s - %(lineno)d - "
            self._formats[level] = fmt + "%(message)s"

    def format(self, record: LogRecord) -> str:
        self._style._fmt = self._formats.get(record.levelname, self._formats["INFO"])
        return super().format(record)


class FilterDuplicateWarning(logging.Filter):
    """Lets each distinct warning through once (MMEngine's filter of the same name).

    Args:
        name: The logger name the filter is for (``logging.Filter``'s argument).
    """

    def __init__(self, name: str = "torchrig") -> None:
        super().__init__(name)
        self.seen: set[str] = set()

    def filter(self, record: LogRecord) -> bool:
        """Whether ``record`` goes out: anything but a warning, or a warning not seen yet."""
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


class MMLogger(Logger, ManagerMixin):
    """A logger with named global instances (``MMLogger.get_instance(name, ...)``).

    It is not registered with ``logging.getLogger``'s manager and does not propagate, so
    configuring the root logger does not duplicate its lines.

    Args:
        name: The instance's name (for ``get_instance``).
        logger_name: The name shown in each line.
        log_file: Also write to this file (rank 0 only unless ``distributed``).
        log_level: Level name or number for both handlers.
        file_mode: ``'w'`` to start the file afresh, ``'a'`` to append.
        distributed: In a distributed run, every rank writes its own file
            ``<stem>_<host>_device<local rank>_rank<rank><suffix>``.
        file_handler_cfg: ``dict(type='FileHandler' | 'RotatingFileHandler' | ..., **kwargs)``
            from ``logging`` / ``logging.handlers`` instead of a plain ``FileHandler``.
    """

    def __init__(
        self,
        name: str,
        logger_name: str = _DEFAULT_NAME,
        log_file: str | None = None,
        log_level: int | str = "INFO",
        file_mode: str = "w",
        distributed: bool = False,
        file_handler_cfg: dict[str, Any] | None = None,
    ) -> None:
        Logger.__init__(self, logger_name)
        ManagerMixin.__init__(self, name)
        level = _level(log_level)
        rank, world_size = _rank_and_world()

        console = logging.StreamHandler(stream=sys.stdout)
        console.setFormatter(MMFormatter(color=_isatty(sys.stdout), datefmt="%m/%d %H:%M:%S"))
        console.setLevel(level if rank == 0 else logging.ERROR)
        console.addFilter(FilterDuplicateWarning(logger_name))
        self.handlers.append(console)

        if log_file is not None:
            per_rank = distributed and world_size > 1
            if per_rank:
                stem, suffix = os.path.splitext(os.path.basename(log_file))
                local_rank = os.environ.get("LOCAL_RANK", "0")
                filename = f"{stem}_{socket.gethostname()}_device{local_rank}_rank{rank}{suffix}"
                log_file = os.path.join(os.path.dirname(log_file), filename)
            if rank == 0 or per_rank:
                directory = os.path.dirname(os.path.abspath(log_file))
                os.makedirs(directory, exist_ok=True)
                handler = _file_handler(log_file, file_mode, file_handler_cfg)
                handler.setFormatter(MMFormatter(color=False, datefmt="%Y/%m/%d %H:%M:%S"))
                handler.setLevel(level)
                handler.addFilter(FilterDuplicateWarning(logger_name))
                self.handlers.append(handler)
        self._log_file = log_file

    @property
    def log_file(self) -> str | None:
        """The file this logger writes, if any."""
        return self._log_file

    @classmethod
    def get_current_instance(cls) -> MMLogger:
        """The current logger; one named ``'torchrig'`` is created if none exists."""
        if not cls._instance_dict:
            cls.get_instance(_DEFAULT_NAME)
        return super().get_current_instance()  # type: ignore[return-value]

    def flush(self) -> None:
        """Flush every handler (lines are written as they are logged; this only asks the
        streams to pass on what they buffer)."""
        for handler in self.handlers:
            handler.flush()

    def callHandlers(self, record: LogRecord) -> None:  # noqa: N802 - logging's name
        """Pass ``record`` to this logger's own handlers only (no propagation)."""
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)

    def setLevel(self, level: int | str) -> None:  # noqa: N802 - logging's name
        """Set the logger's level and drop the cached level checks of every MMLogger."""
        self.level = _level(level)
        for logger in MMLogger._instance_dict.values():
            logger._cache.clear()

    def close(self) -> None:
        """Close and remove the file handlers (the console handler stays)."""
        self.flush()
        for handler in list(self.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                self.handlers.remove(handler)


def _level(level: int | str) -> int:
    if isinstance(level, str):
        name = level.upper()
        if name not in logging._nameToLevel:
            raise ValueError(
                f"MMLogger: unknown log level {level!r}; use one of DEBUG, INFO, WARNING, "
                "ERROR, CRITICAL"
            )
        return logging._nameToLevel[name]
    return int(level)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _file_handler(
    log_file: str, file_mode: str, cfg: dict[str, Any] | None
) -> logging.FileHandler | logging.Handler:
    if cfg is None:
        return logging.FileHandler(log_file, file_mode)
    from logging import handlers as log_handlers

    cfg = dict(cfg)
    kind = cfg.pop("type", "FileHandler")
    factory = getattr(logging, kind, None) or getattr(log_handlers, kind, None)
    if factory is None:
        raise ValueError(
            f"MMLogger: file_handler_cfg type {kind!r} is not a handler of logging or "
            "logging.handlers (e.g. 'RotatingFileHandler', 'TimedRotatingFileHandler')"
        )
    if "Timed" not in kind:  # TimedRotatingFileHandler takes no mode
        cfg.setdefault("mode", file_mode)
    return factory(log_file, **cfg)


def print_log(
    msg: Any, logger: Logger | str | None = None, level: int | str = logging.INFO
) -> None:
    """Print ``msg`` with a logger.

    Args:
        msg: The message.
        logger: None: ``print``; ``'silent'``: nothing; ``'current'``: the current
            :class:`MMLogger`; another string: the MMLogger instance of that name; a
            ``logging.Logger``: that logger.
        level: Level name or number.

    Raises:
        ValueError: When no MMLogger instance has the given name.
        TypeError: For a ``logger`` of another type.
    """
    level = _level(level)
    if logger is None:
        print(msg)
    elif isinstance(logger, Logger):
        logger.log(level, msg)
    elif logger == "silent":
        return
    elif logger == "current":
        MMLogger.get_current_instance().log(level, msg)
    elif isinstance(logger, str):
        if not MMLogger.check_instance_created(logger):
            raise ValueError(
                f"print_log: no MMLogger named {logger!r}; create it with "
                f"MMLogger.get_instance({logger!r}) or pass logger='current'"
            )
        MMLogger.get_instance(logger).log(level, msg)
    else:
        raise TypeError(
            "print_log: logger must be a logging.Logger, 'silent', 'current', an MMLogger name "
            f"or None, got {type(logger).__name__}"
        )
