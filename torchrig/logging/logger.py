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
import threading
import time
import weakref
from collections.abc import Mapping
from logging import Logger, LogRecord
from typing import Any

from torchrig.utils import HeldSources, ManagerMixin

__all__ = ["MMLogger", "MMFormatter", "print_log"]

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
        self._plain_levels: dict[str, str] = {}  # level -> its (coloured) name, no source place
        for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            name = level
            if color:
                attrs = _COLORS[level] + (";5" if blink and level in ("WARNING", "ERROR") else "")
                name = f"\033[{attrs}m{level}\033[0m"
            fmt = f"%(asctime)s - %(name)s - {name} - "
            if level in ("ERROR", "CRITICAL"):
                fmt += "%(pathname)s - %(funcName)s - %(lineno)d - "
            else:
                self._plain_levels[level] = name
            self._formats[level] = fmt + "%(message)s"
        self._time_cache: tuple[int, str] = (-1, "")  # (second, its formatted time)

    def format(self, record: LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            message = record.getMessage()
            line = self.plain_line(record.name, record.levelname, message, record.created)
            if line is not None:
                record.message, record.asctime = message, self._time_cache[1]
                return line
        self._style._fmt = self._formats.get(record.levelname, self._formats["INFO"])
        return super().format(record)

    def plain_line(self, name: str, level_name: str, message: str, created: float) -> str | None:
        """What ``logging.Formatter.format`` makes of a record below ERROR without exception
        or stack (the time string formatted once per second); None where that machinery is
        needed (a level with the source place, no ``datefmt``, an overridden time format)."""
        shown = self._plain_levels.get(level_name)
        if (
            shown is None
            or not self.datefmt
            or type(self).formatTime is not logging.Formatter.formatTime
            or self.converter is not time.localtime
        ):
            return None
        second = int(created)
        cached_second, asctime = self._time_cache
        if second != cached_second:
            asctime = time.strftime(self.datefmt, time.localtime(second))
            self._time_cache = (second, asctime)
        return f"{asctime} - {name} - {shown} - {message}"


class _Flusher:
    """One daemon thread that writes deferred lines nobody else wrote (see
    :meth:`MMLogger.defer`).

    While lines keep coming, the thread that logs writes the held ones once they are due (a
    line that finds them due writes them first; an epoch's end writes them), so this thread is
    rarely needed, and waking it on demand would cost a switch of the interpreter lock each
    time: a measurable share of a small model's step. It looks every ``_PERIOD`` seconds
    instead, writes lines ``_GRACE`` seconds past their due time (logging paused: a stalled
    data loader, a long evaluation), and after ``_IDLE_AFTER`` seconds without any held line
    waits until one is held.
    """

    def __init__(self) -> None:
        self._handlers: weakref.WeakSet[_DeferringHandler] = weakref.WeakSet()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _handlers
        self._start_lock = threading.Lock()
        self._idle = False  # waiting for a held line (then watch must wake it)

    def watch(self, handler: _DeferringHandler) -> None:
        """``handler`` has just deferred its first line: see that it is written."""
        if handler not in self._handlers:
            with self._lock:  # (the flusher copies the set under the lock)
                self._handlers.add(handler)
        if self._thread is None or not self._thread.is_alive():  # none yet, or forked
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="torchrig-log-flusher", daemon=True
                    )
                    self._thread.start()
        if self._idle:
            self._wake.set()

    def _run(self) -> None:
        quiet = 0.0
        while True:
            if quiet >= _IDLE_AFTER:
                self._idle = True
                if not self._held_lines():  # (one held meanwhile: watch saw _idle False)
                    self._wake.wait()
                self._wake.clear()
                self._idle, quiet = False, 0.0
            time.sleep(_PERIOD)
            quiet = 0.0 if self._write_overdue() else quiet + _PERIOD

    def _watched(self) -> list[_DeferringHandler]:
        # Copied under the lock: a set that grows while it is iterated raises, which would
        # end this thread.
        with self._lock:
            return list(self._handlers)

    def _held_lines(self) -> bool:
        return any(handler._pending for handler in self._watched())

    def _write_overdue(self) -> bool:
        """Write the lines ``_GRACE`` seconds past their due time; whether any are held."""
        now, held = time.time(), False
        for handler in self._watched():
            if not handler._pending:
                continue
            held = True
            if handler._due + _GRACE <= now:
                try:
                    handler.flush()
                except Exception:  # noqa: BLE001 - a closed or broken stream: drop them
                    handler._pending.clear()
        return held


_PERIOD = 0.5  # seconds between the flusher's looks
_GRACE = 0.5  # seconds past their due time after which it writes held lines
_IDLE_AFTER = 30.0  # seconds without held lines after which it waits for one
_FLUSHER = _Flusher()


class _DeferringHandler(logging.StreamHandler):
    """A ``StreamHandler`` that can also hold lines for a while and write them together
    (:meth:`MMLogger.defer`): one write instead of one a line. Anything else it writes, and
    :meth:`flush` / ``close``, write the held lines first, so the order is kept."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[tuple[str, str, str, float]] = []  # (name, level, message, time)
        self._due = 0.0

    def defer(self, name: str, level_name: str, message: str, now: float, seconds: float) -> None:
        """Hold a line (formatted when written) to be written by ``now + seconds``. The caller
        holds the handler's lock."""
        pending = self._pending
        pending.append((name, level_name, message, now))
        if len(pending) == 1:
            self._due = now + seconds
            _FLUSHER.watch(self)
        elif now >= self._due:  # the flusher is late (a busy interpreter): write them now
            self.flush()

    def put(self, text: str) -> None:
        """Write ``text`` after the held lines, then flush. The caller holds the lock."""
        if self._pending:
            text = self._take_pending() + text
        self._write(text)
        super().flush()

    def _take_pending(self) -> str:
        """The held lines' text (emptying the list)."""
        text = self.lines_text(self._pending)
        self._pending.clear()
        return text

    def lines_text(self, lines: list[tuple[str, str, str, float]]) -> str:
        """The text of ``(logger name, level name, message, time)`` lines, as this handler's
        formatter writes them (through a record where it is not an MMFormatter)."""
        formatter, terminator, texts = self.formatter, self.terminator, []
        plain = type(formatter) is MMFormatter
        for name, level_name, message, created in lines:
            line = formatter.plain_line(name, level_name, message, created) if plain else None
            if line is None:  # another formatter (set while lines were held): a record
                record = logging.LogRecord(
                    name, logging.getLevelName(level_name), "(unknown file)", 0, message, None, None
                )
                record.created = created
                line = self.format(record)
            texts.append(line + terminator)
        return "".join(texts)

    def _write(self, text: str) -> None:
        self.stream.write(text)

    def emit(self, record: LogRecord) -> None:
        try:
            msg = self.format(record)
            self.acquire()
            try:
                self.put(msg + self.terminator)
            finally:
                self.release()
        except RecursionError:  # as logging.StreamHandler.emit
            raise
        except Exception:  # noqa: BLE001 - logging reports it on stderr
            self.handleError(record)

    def flush(self) -> None:
        """Write the held lines, then flush the stream."""
        self.acquire()
        try:
            if self._pending and self.stream is not None:
                self._write(self._take_pending())
            super().flush()
        finally:
            self.release()


class _ConsoleHandler(_DeferringHandler):
    """The console handler; it writes past W&B's console-capture wrapper while no W&B run
    captures the console.

    Importing ``wandb`` replaces ``sys.stdout.write`` and ``sys.stderr.write`` for good with a
    wrapper that runs its capture callbacks after each write; with none registered (W&B's
    console capture off, torchrig's default) the wrapper only costs time: several
    microseconds a line, a measurable share of an iteration when logging every iteration.
    With a callback registered (``console='auto'``), lines go through it as usual.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._wrapper: Any = None  # W&B's wrapper last seen, and the write it wraps
        self._wrapped: Any = None

    def _write(self, text: str) -> None:
        stream = self.stream
        write = stream.write
        if write is self._wrapper or _is_wandb_capture(write):
            capture = sys.modules.get("wandb.sdk.lib.console_capture")
            if capture is not None and not (
                getattr(capture, "_stdout_callbacks", True)
                or getattr(capture, "_stderr_callbacks", True)
            ):
                if write is not self._wrapper:
                    self._wrapper, self._wrapped = write, _wrapped_write(write)
                if self._wrapped is not None:
                    self._wrapped(text)
                    return
        write(text)


class _FileHandler(_DeferringHandler, logging.FileHandler):
    """The log file's handler (``logging.FileHandler`` that can hold lines: see
    :class:`_DeferringHandler`)."""

    def __init__(self, filename: str, mode: str = "a") -> None:
        logging.FileHandler.__init__(self, filename, mode)
        self._pending = []
        self._due = 0.0

    def emit(self, record: LogRecord) -> None:
        # As FileHandler.emit: reopen a closed file, unless that would truncate it.
        if self.stream is None and (self.mode != "w" or not getattr(self, "_closed", False)):
            self.stream = self._open()
        if self.stream:
            _DeferringHandler.emit(self, record)


def _is_wandb_capture(write: Any) -> bool:
    return getattr(write, "__module__", None) == "wandb.sdk.lib.console_capture"


def _wrapped_write(wrapper: Any) -> Any:
    """The write method W&B's wrapper calls first (None if it cannot be found)."""
    code, closure = getattr(wrapper, "__code__", None), getattr(wrapper, "__closure__", None)
    if code is None or not closure:
        return None
    cells = dict(zip(code.co_freevars, closure))
    try:
        original = cells["orig_write"].cell_contents
    except (KeyError, ValueError):
        return None
    return original if callable(original) else None


class _FilterDuplicateWarning(logging.Filter):
    """Lets each distinct warning through once."""

    def __init__(self, name: str = "torchrig") -> None:
        super().__init__(name)
        self._seen: set[str] = set()

    def filter(self, record: LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        if message in self._seen:
            return False
        self._seen.add(message)
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
        # What hands over held lines before any other line (the LoggerHook's): see HeldSources.
        self.held = HeldSources()
        level = _level(log_level)
        rank, world_size = _rank_and_world()

        console = _ConsoleHandler(stream=sys.stdout)
        console.setFormatter(MMFormatter(color=_isatty(sys.stdout), datefmt="%m/%d %H:%M:%S"))
        console.setLevel(level if rank == 0 else logging.ERROR)
        console.addFilter(_FilterDuplicateWarning(logger_name))
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
                handler.addFilter(_FilterDuplicateWarning(logger_name))
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

    def defer(self, msg: object, seconds: float = 0.1, level: int = logging.INFO) -> None:
        """Log ``msg`` (below WARNING), written to the console and the log file together with
        the other lines deferred by then, once ``seconds`` have passed: by the next line logged
        after that, or, if none comes (logging paused), by a background thread about a second
        later. One write for many lines instead of one each: a log line every iteration
        otherwise costs a write to the terminal and one to the file per iteration, a
        measurable share of a small model's step.

        The order of this logger's lines is kept: any other line, :meth:`flush` and the end
        of the process write the deferred lines first. Output written past the logger
        (``print``) can come before deferred lines logged up to ``seconds`` earlier, and a
        process killed by SIGKILL loses the lines not yet written. With other handlers or
        filters attached, at WARNING and above, or with ``seconds <= 0`` the line is logged
        at once, as :meth:`log` does.

        Args:
            msg: The message.
            seconds: Held at most this long while lines keep coming.
            level: Its level.
        """
        if not self.isEnabledFor(level):
            return
        if self.held.items:
            self.held.release()
        if seconds > 0 and level < logging.WARNING and self._emit_own(level, msg, (), seconds):
            return
        self._log(level, msg, ())

    def flush(self) -> None:
        """Write the deferred lines (:meth:`defer`) and flush every handler."""
        self.held.release()
        for handler in self.handlers:
            handler.flush()

    def _log(  # type: ignore[override]
        self,
        level: int,
        msg: object,
        args: Any,
        exc_info: Any = None,
        extra: dict[str, Any] | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
    ) -> None:
        if self.held.items:
            self.held.release()
        if exc_info is None and extra is None and not stack_info:
            if level < logging.WARNING and self._emit_own(level, msg, args):
                return
            if level < logging.ERROR and all(
                type(handler.formatter) is MMFormatter for handler in self.handlers
            ):
                # Below ERROR our formatter shows no source place: skip logging's walk up the
                # stack to find it (a log line every iteration makes that walk a measurable
                # cost).
                self.handle(self._record_without_place(level, msg, args))
                return
        super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)

    def _record_without_place(self, level: int, msg: object, args: Any) -> LogRecord:
        """A record whose source place is not looked up (our format shows none below ERROR)."""
        return self.makeRecord(
            self.name, level, "(unknown file)", 0, msg, args, None, "(unknown function)"
        )

    def _own_handlers_only(self) -> bool:
        """Whether only this logger's own console and file handlers, with their formatters and
        filters, are attached (and no filter of the logger's own)."""
        if self.filters or self.disabled:
            return False
        for handler in self.handlers:
            kind = type(handler)
            if (
                (kind is not _ConsoleHandler and kind is not _FileHandler)
                or type(handler.formatter) is not MMFormatter
                or handler.stream is None
                or len(handler.filters) != 1
                or type(handler.filters[0]) is not _FilterDuplicateWarning
            ):
                return False
        return True

    def log_lines(self, lines: list[tuple[float, str]], level: int = logging.INFO) -> None:
        """Log several messages below WARNING, each ``(time, message)`` with the time it
        belongs to (``time.time()``), in one write per handler after the deferred lines.
        With other handlers or filters attached, each goes through :meth:`log` (and gets
        the time it is logged at).

        Args:
            lines: ``(time, message)`` pairs, in order.
            level: Their level (below WARNING).
        """
        if not lines or not self.isEnabledFor(level):
            return
        if self.held.items:
            self.held.release()
        if level >= logging.WARNING or not self._own_handlers_only():
            for _, message in lines:
                self.log(level, message)
            return
        name, level_name = self.name, logging.getLevelName(level)
        entries = [(name, level_name, message, created) for created, message in lines]
        self._write_own(level, entries, 0.0, (lines[0][1], ()))

    def _write_own(
        self, level: int, entries: list[tuple[str, str, str, float]], defer: float, failed: tuple
    ) -> None:
        """Hand ``(name, level name, message, time)`` lines to this logger's own handlers:
        written at once after the held ones, or with ``defer`` seconds held (see
        :meth:`defer`). ``failed``: ``(msg, args)`` of the record a failed write reports."""
        for handler in self.handlers:
            if level < handler.level:
                continue
            handler.acquire()
            try:
                if defer > 0:
                    for entry in entries:
                        handler.defer(*entry, defer)
                else:
                    handler.put(handler.lines_text(entries))
            except RecursionError:
                raise
            except Exception:  # noqa: BLE001 - reported as logging reports a failed emit
                handler.handleError(self._record_without_place(level, *failed))
            finally:
                handler.release()

    def _emit_own(self, level: int, msg: object, args: Any, defer: float = 0.0) -> bool:
        """Write a line below WARNING straight to this logger's own console and file handlers
        (what ``logging`` does through a record, its filters and each handler's ``emit``, at
        a fraction of the cost: a log line every iteration makes it count), or with
        ``defer`` seconds, hand it to them to be written within that time. False, with
        nothing written, where anything else is attached: other handlers, formatters or
        filters, or a message that does not format (a formatter that cannot write the line
        directly formats a record, as logging would)."""
        if not self._own_handlers_only():
            return False
        values = args
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            values = args[0]  # as LogRecord does
        try:
            message = str(msg) % values if values else str(msg)
        except Exception:  # noqa: BLE001 - logging's own path reports it
            return False
        entry = (self.name, logging.getLevelName(level), message, time.time())
        self._write_own(level, [entry], defer, (msg, args))
        return True

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
        """Write the deferred lines, close and remove the file handlers (the console handler
        stays)."""
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
        return _FileHandler(log_file, file_mode)
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
