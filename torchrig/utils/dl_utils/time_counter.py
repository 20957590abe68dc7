"""Average run time of a function or a block (MMEngine's ``TimeCounter``)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import torch

from torchrig.dist import is_main_process
from torchrig.logging import print_log

__all__ = ["TimeCounter"]


class TimeCounter:
    """Times each call of a function (as a decorator) or each pass through a ``with`` block,
    and logs the average every ``log_interval`` runs after ``warmup_interval`` runs.

    One counter exists per ``tag``: creating it again with the same tag returns the same one.
    Only the main process counts and logs.

    Args:
        log_interval: Log every this many runs.
        warmup_interval: Runs before this one are not counted (start-up is slow).
        with_sync: Wait for the GPU (``torch.cuda.synchronize``) before reading the clock.
        tag: The name in the log line (a decorated function's name by default); required
            for the ``with`` form.
        logger: Where the line goes (see :func:`torchrig.logging.print_log`).

    Example:
        >>> @TimeCounter(log_interval=10)
        ... def step():
        ...     pass
        >>> with TimeCounter(tag='data'):
        ...     pass
    """

    instance_dict: dict[str | None, TimeCounter] = {}

    def __new__(
        cls,
        log_interval: int = 1,
        warmup_interval: int = 1,
        with_sync: bool = True,
        tag: str | None = None,
        logger: Any = None,
    ) -> TimeCounter:
        if warmup_interval < 1:
            raise ValueError(f"warmup_interval must be at least 1, got {warmup_interval}")
        if tag is not None and tag in cls.instance_dict:
            return cls.instance_dict[tag]
        instance = super().__new__(cls)
        cls.instance_dict[tag] = instance
        instance.log_interval = log_interval
        instance.warmup_interval = warmup_interval
        instance.with_sync = with_sync
        instance.tag = tag
        instance.logger = logger
        instance._count = 0
        instance._pure_inf_time = 0.0
        instance._start_time = 0.0
        return instance

    def _sync(self) -> None:
        if self.with_sync and torch.cuda.is_available():
            torch.cuda.synchronize()

    def __call__(self, fn: Callable) -> Callable:
        if self.tag is None:
            self.tag = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not is_main_process():
                return fn(*args, **kwargs)
            self._count += 1
            self._sync()
            start = time.perf_counter()
            result = fn(*args, **kwargs)
            self._sync()
            self.print_time(time.perf_counter() - start)
            return result

        return wrapper

    def __enter__(self) -> None:
        if self.tag is None:
            raise ValueError(
                "TimeCounter used as a context manager needs tag=..., so that its log lines "
                "can be told apart"
            )
        if not is_main_process():
            return
        self._count += 1
        self._sync()
        self._start_time = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        if not is_main_process():
            return
        self._sync()
        self.print_time(time.perf_counter() - self._start_time)

    def print_time(self, elapsed: float) -> None:
        """Adds one run's seconds and logs the average when it is time to."""
        if self._count < self.warmup_interval:
            return
        self._pure_inf_time += elapsed
        if self._count % self.log_interval == 0:
            per_run = 1000 * self._pure_inf_time / (self._count - self.warmup_interval + 1)
            print_log(
                f"[{self.tag}]-time per run averaged in the past {self._count} runs: "
                f"{per_run:.1f} ms",
                self.logger,
            )
