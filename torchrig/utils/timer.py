"""A stopwatch (MMEngine's ``mmengine.utils.timer``)."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["Timer", "TimerError", "check_time"]


class TimerError(Exception):
    """A timer used before it was started."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Timer:
    """A stopwatch, also a context manager that prints the time spent in its block.

    Args:
        start: Start at once.
        print_tmpl: The line printed on leaving a ``with`` block, formatted with the seconds
            (default ``'{:.3f}'``).

    Example:
        >>> with Timer(print_tmpl='it takes {:.1f} seconds'):
        ...     pass
        it takes 0.0 seconds
    """

    def __init__(self, start: bool = True, print_tmpl: str | None = None) -> None:
        self._is_running = False
        self.print_tmpl = print_tmpl if print_tmpl else "{:.3f}"
        if start:
            self.start()

    @property
    def is_running(self) -> bool:
        """Whether the timer is running."""
        return self._is_running

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        print(self.print_tmpl.format(self.since_last_check()))
        self._is_running = False

    def start(self) -> None:
        """Starts the timer (a running timer keeps its start)."""
        if not self._is_running:
            self._t_start = time.time()
            self._is_running = True
        self._t_last = time.time()

    def since_start(self) -> float:
        """Seconds since the timer started; also marks a check."""
        if not self._is_running:
            raise TimerError("timer is not running")
        self._t_last = time.time()
        return self._t_last - self._t_start

    def since_last_check(self) -> float:
        """Seconds since the last check (or the start); marks a new check."""
        if not self._is_running:
            raise TimerError("timer is not running")
        duration = time.time() - self._t_last
        self._t_last = time.time()
        return duration


_g_timers: dict[str, Timer] = {}


def check_time(timer_id: str) -> float:
    """Seconds since the last call with the same ``timer_id`` (0 on the first call).

    Example:
        >>> for i in range(3):
        ...     elapsed = check_time('loop')
    """
    if timer_id not in _g_timers:
        _g_timers[timer_id] = Timer()
        return 0.0
    return _g_timers[timer_id].since_last_check()
