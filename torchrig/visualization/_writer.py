"""Background writers: each backend is fed through its own bounded queue by its own thread.

Training appends to a deque; the writer wakes a few times a second (or when the queue is half
full) and makes the backend calls queued, one by one, in order. A backend whose class sets
``threaded = False`` is called on the logging thread instead (W&B: ``Run.log`` already hands
the row to W&B's own service process, and must come in order with the user's own
``wandb.log`` calls). A backend that raises is reported once and disabled; the others go on.
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from torchrig.visualization.base_vis_backend import BaseVisBackend

__all__ = ["BackendWorker", "register_exit_close", "report"]

_FLUSH = "__flush__"
_CLOSE = "__close__"
_STOP = "__stop__"


_LIVE: weakref.WeakSet[BackendWorker] = weakref.WeakSet()


def _close_live_at_exit() -> None:
    # A script that never calls close() (as in MMEngine's examples) still gets its queued
    # values sent and its runs finished.
    for worker in list(_LIVE):
        try:
            worker.close(0, timeout=60)
        except Exception:  # noqa: BLE001 - interpreter exit
            pass


def register_exit_close() -> None:
    """(Re-)register the exit hook so that it runs before hooks registered earlier (atexit
    runs last-registered first): call it after a tracker library registered its own."""
    atexit.unregister(_close_live_at_exit)
    atexit.register(_close_live_at_exit)


def report(msg: str) -> None:
    """Tell the user about a tracker problem: the current logger if any, and a warning."""
    try:
        from torchrig.logging.logger import MMLogger, print_log

        if MMLogger.get_current_instance() is not None:
            print_log(msg, logger="current", level="WARNING")
    except Exception:  # noqa: BLE001 - reporting must never raise
        pass
    warnings.warn(msg, RuntimeWarning, stacklevel=2)


class BackendWorker:
    """Feeds one backend from a bounded queue on a background thread.

    Args:
        name: The backend's name in the visualizer (used in messages and the thread name).
        backend: The backend.
        capacity: The most items waiting; a producer finding the queue full waits for room
            (for at most ``stall_timeout`` seconds of no progress, then the backend is disabled).
        interval: Seconds between the writer's wake-ups when nothing asks it to hurry.
        stall_timeout: Seconds without progress after which a backend counts as hung.
    """

    def __init__(
        self,
        name: str,
        backend: BaseVisBackend,
        capacity: int = 10_000,
        interval: float = 0.1,
        stall_timeout: float = 300.0,
    ) -> None:
        self.name = name
        self.backend = backend
        self.capacity = capacity
        self.interval = interval
        self.stall_timeout = stall_timeout
        self.error: BaseException | None = None
        self._items: deque[tuple[str, tuple, dict]] = deque()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self._closed = False
        self._counter = itertools.count()
        self._last_progress = time.monotonic()
        self._direct = not getattr(backend, "threaded", True)
        self._direct_lock = threading.RLock()

    @property
    def failed(self) -> bool:
        """Whether the backend raised and was disabled."""
        return self.error is not None

    # -- producer side ---------------------------------------------------------------------
    def submit(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue ``backend.<method>(*args, **kwargs)``; returns at once unless the queue is full."""
        self.put((method, args, kwargs))

    def put(self, item: tuple[str, tuple, dict]) -> None:
        """Queue ``(method, args, kwargs)`` (see :meth:`submit`; one item may go to several
        workers: it is not changed)."""
        if self.error is not None or self._closed:
            return
        if self._direct:
            with self._direct_lock:
                if not self._closed:
                    _LIVE.add(self)
                    self._call(*item)
            return
        if self._thread is None:
            self._start()
        items = self._items
        if len(items) >= self.capacity:
            self._wait_for_room()
        items.append(item)
        if len(items) >= self.capacity // 2:
            self._wake.set()

    def _wait_for_room(self) -> None:
        self._wake.set()
        with self._progress:
            while len(self._items) >= self.capacity and self.error is None:
                if time.monotonic() - self._last_progress > self.stall_timeout:
                    self._fail("queue", TimeoutError(f"no progress in {self.stall_timeout:.0f} s"))
                    break
                self._progress.wait(timeout=1.0)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued so far is sent and made durable.

        Args:
            timeout: Seconds to wait at most; None waits as long as the backend makes progress.

        Returns:
            True when the backend is flushed; False when it failed or did not finish in time.
        """
        if self._direct and self.error is None and not self._closed:
            with self._direct_lock:
                self._guarded("flush", self.backend.flush)
        if self._thread is None or self.error is not None or self._closed:
            return self.error is None
        done = threading.Event()
        self._items.append((_FLUSH, (done,), {}))
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(timeout=0.5):
            if self.error is not None or not self._thread.is_alive():
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            if time.monotonic() - self._last_progress > self.stall_timeout:
                self._fail("flush", TimeoutError(f"no progress in {self.stall_timeout:.0f} s"))
                return False
        return self.error is None

    def stop(self, timeout: float | None = None) -> None:
        """Send what is queued and stop the thread; the backend stays open (a new worker
        can feed it on).

        Args:
            timeout: Seconds to wait for the thread at most.
        """
        if self._closed:
            return
        if self._thread is None:
            self.flush()
            self._closed = True
            _LIVE.discard(self)
            return
        self._items.append((_STOP, (), {}))
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._closed = True
        _LIVE.discard(self)

    def close_at_exit(self) -> None:
        """Close the backend at interpreter exit, unless :meth:`close` is called before."""
        _LIVE.add(self)
        register_exit_close()

    def close(self, exit_code: int = 0, timeout: float | None = None) -> None:
        """Send what is queued, close the backend and stop the thread.

        Args:
            exit_code: Passed to the backend's ``close`` (W&B records it).
            timeout: Seconds to wait for the thread at most.
        """
        if self._closed:
            return
        if self._thread is None:
            with self._direct_lock:
                if self._closed:
                    return
                self._closed = True
                # Called on the logging thread, or used directly (``experiment``): close here.
                if self.backend._env_initialized:
                    self._call(_CLOSE, (exit_code,), {})
            return
        self._items.append((_CLOSE, (exit_code,), {}))
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._closed = True

    # -- writer side -----------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name=f"torchrig-vis-{self.name}", daemon=True
                )
                thread.start()
                self._thread = thread
                _LIVE.add(self)
                register_exit_close()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._drain()
            if self._stopping and not self._items:
                return

    def _drain(self) -> None:
        items = self._items
        if not items:
            return
        while items:
            method, args, kwargs = items.popleft()
            self._call(method, args, kwargs)
            self._last_progress = time.monotonic()
            if next(self._counter) % 64 == 0 or not items:
                with self._progress:
                    self._progress.notify_all()
        if self.error is None:
            self._guarded("after_batch", self.backend.after_batch)

    def _call(self, method: str, args: tuple, kwargs: dict) -> None:
        if method == _FLUSH:
            if self.error is None:
                self._guarded("flush", self.backend.flush)
            args[0].set()
        elif method == _STOP:
            if self.error is None:
                self._guarded("flush", self.backend.flush)
        elif method == _CLOSE:
            if self.error is None:
                self._guarded("close", self.backend.close, *args)
            else:
                # Finish the run if the library still lets us; it already failed once.
                try:
                    self.backend.close(*args)
                except Exception:  # noqa: BLE001
                    pass
        elif self.error is None:
            self._guarded(method, getattr(self.backend, method), *args, **kwargs)

    def _guarded(self, method: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - a tracker must never stop training
            self._fail(method, err)

    def _fail(self, method: str, err: BaseException) -> None:
        if self.error is not None:
            return
        self.error = err
        self._items.clear()
        report(
            f"Visualizer: backend {self.name!r} ({type(self.backend).__name__}) failed in "
            f"{method}: {type(err).__name__}: {err}. It is disabled for the rest of this run; "
            "training and the other backends go on (the local backend keeps every value)."
        )
        with self._progress:
            self._progress.notify_all()
