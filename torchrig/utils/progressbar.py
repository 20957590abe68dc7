"""A text progress bar and loops that show one (MMEngine's ``mmengine.utils.progressbar``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from shutil import get_terminal_size
from typing import IO, TYPE_CHECKING, Any

from torchrig.utils.timer import Timer

if TYPE_CHECKING:
    from multiprocessing.pool import Pool as PoolType

__all__ = [
    "ProgressBar",
    "init_pool",
    "track_iter_progress",
    "track_parallel_progress",
    "track_progress",
]


class ProgressBar:
    """A progress bar written to a stream, with speed, elapsed time and ETA.

    Args:
        task_num: How many tasks there are (0: unknown, only a count is shown).
        bar_width: The bar's width in characters (narrower when the terminal is).
        start: Start (write the empty bar) at once.
        file: The stream to write to.

    Example:
        >>> bar = ProgressBar(10)
        >>> for _ in range(10):
        ...     bar.update()
    """

    def __init__(
        self, task_num: int = 0, bar_width: int = 50, start: bool = True, file: IO = sys.stdout
    ) -> None:
        self.task_num = task_num
        self.bar_width = bar_width
        self.completed = 0
        self.file = file
        if start:
            self.start()

    @property
    def terminal_width(self) -> int:
        """The width of the terminal, in characters."""
        return get_terminal_size().columns

    def start(self) -> None:
        """Writes the empty bar and starts the clock."""
        if self.task_num > 0:
            self.file.write(f"[{' ' * self.bar_width}] 0/{self.task_num}, elapsed: 0s, ETA:")
        else:
            self.file.write("completed: 0, elapsed: 0s")
        self.file.flush()
        self.timer = Timer()

    def update(self, num_tasks: int = 1) -> None:
        """Counts ``num_tasks`` more tasks as done and redraws the bar."""
        if num_tasks <= 0:
            raise ValueError(f"num_tasks must be positive, got {num_tasks}")
        self.completed += num_tasks
        elapsed = self.timer.since_start()
        fps = self.completed / elapsed if elapsed > 0 else float("inf")
        if self.task_num > 0:
            percentage = self.completed / float(self.task_num)
            eta = int(elapsed * (1 - percentage) / percentage + 0.5)
            msg = (
                f"\r[{{}}] {self.completed}/{self.task_num}, {fps:.1f} task/s, "
                f"elapsed: {int(elapsed + 0.5)}s, ETA: {eta:5}s"
            )
            width = self.terminal_width
            bar_width = min(self.bar_width, int(width - len(msg)) + 2, int(width * 0.6))
            bar_width = max(2, bar_width)
            mark_width = min(bar_width, int(bar_width * percentage))
            self.file.write(msg.format(">" * mark_width + " " * (bar_width - mark_width)))
        else:
            self.file.write(
                f"\rcompleted: {self.completed}, elapsed: {int(elapsed + 0.5)}s, {fps:.1f} tasks/s"
            )
        self.file.flush()


def _tasks_and_count(tasks: Any) -> tuple[Iterable, int]:
    if isinstance(tasks, tuple) and len(tasks) == 2 and isinstance(tasks[1], int):
        if not isinstance(tasks[0], Iterable):
            raise TypeError('"tasks" as a tuple must be (an iterable, its length)')
        return tasks[0], tasks[1]
    if isinstance(tasks, Iterable) and isinstance(tasks, Sized):
        return tasks, len(tasks)
    raise TypeError(
        f'"tasks" must be an iterable object with a length or a (iterator, int) tuple, '
        f"got {type(tasks).__name__}"
    )


def track_progress(
    func: Callable, tasks: Any, bar_width: int = 50, file: IO = sys.stdout, **kwargs: Any
) -> list:
    """Calls ``func(task, **kwargs)`` on every task in turn, showing a progress bar.

    Args:
        func: What to run on each task.
        tasks: A sized iterable of tasks, or ``(iterator, number of tasks)``.
        bar_width: The bar's width.
        file: The stream the bar is written to.
        **kwargs: Passed to ``func``.

    Returns:
        The results, in order.
    """
    tasks, task_num = _tasks_and_count(tasks)
    bar = ProgressBar(task_num, bar_width, file=file)
    results = []
    for task in tasks:
        results.append(func(task, **kwargs))
        bar.update()
    bar.file.write("\n")
    return results


def init_pool(
    process_num: int, initializer: Callable | None = None, initargs: tuple | None = None
) -> PoolType:
    """A ``multiprocessing.Pool`` of ``process_num`` processes."""
    from multiprocessing import Pool  # imported on use: multiprocessing is slow to import

    if initializer is None:
        return Pool(process_num)
    if initargs is None:
        return Pool(process_num, initializer)
    if not isinstance(initargs, tuple):
        raise TypeError(f'"initargs" must be a tuple, got {type(initargs).__name__}')
    return Pool(process_num, initializer, initargs)


def track_parallel_progress(
    func: Callable,
    tasks: Any,
    nproc: int,
    initializer: Callable | None = None,
    initargs: tuple | None = None,
    bar_width: int = 50,
    chunksize: int = 1,
    skip_first: bool = False,
    keep_order: bool = True,
    file: IO = sys.stdout,
) -> list:
    """Runs ``func`` on the tasks in a pool of processes, showing a progress bar.

    Args:
        func: What to run on each task (picklable, as ``multiprocessing`` needs).
        tasks: A sized iterable of tasks, or ``(iterator, number of tasks)``.
        nproc: The number of worker processes.
        initializer: Run by each worker at start (see ``multiprocessing.Pool``).
        initargs: The initializer's arguments.
        bar_width: The bar's width.
        chunksize: Tasks handed to a worker at a time.
        skip_first: Leave the first ``nproc * chunksize`` results out of the speed estimate
            (workers' start-up is slow).
        keep_order: Return results in task order (``imap``); else as they finish.
        file: The stream the bar is written to.

    Returns:
        The results.
    """
    tasks, task_num = _tasks_and_count(tasks)
    first = nproc * chunksize
    if skip_first:
        task_num -= first
    results = []
    with init_pool(nproc, initializer, initargs) as pool:
        bar = ProgressBar(task_num, bar_width, start=not skip_first, file=file)
        mapper = pool.imap if keep_order else pool.imap_unordered
        for result in mapper(func, tasks, chunksize):
            results.append(result)
            if skip_first and len(results) <= first:
                if len(results) == first:
                    bar.start()
                continue
            bar.update()
        pool.close()
        pool.join()
    bar.file.write("\n")
    return results


def track_iter_progress(tasks: Any, bar_width: int = 50, file: IO = sys.stdout) -> Iterator:
    """Yields the tasks one by one, advancing a progress bar after each.

    Args:
        tasks: A sized iterable of tasks, or ``(iterator, number of tasks)``.
        bar_width: The bar's width.
        file: The stream the bar is written to.

    Yields:
        Each task.
    """
    tasks, task_num = _tasks_and_count(tasks)
    bar = ProgressBar(task_num, bar_width, file=file)
    for task in tasks:
        yield task
        bar.update()
    bar.file.write("\n")
