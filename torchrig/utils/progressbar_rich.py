"""A progress bar drawn with ``rich`` (MMEngine's ``mmengine.utils.progressbar_rich``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from typing import Any

__all__ = ["track_progress_rich"]


class _Worker:
    """Calls ``func`` on one task's arguments (a dict: keywords, a tuple/list: positional,
    anything else: the one argument) and returns the result with the task's index."""

    def __init__(self, func: Callable) -> None:
        self.func = func

    def __call__(self, indexed: tuple[Any, int]) -> tuple[Any, int]:
        inputs, index = indexed
        if isinstance(inputs, dict):
            return self.func(**inputs), index
        if isinstance(inputs, (tuple, list)):
            return self.func(*inputs), index
        return self.func(inputs), index


def track_progress_rich(
    func: Callable,
    tasks: Iterable = (),
    task_num: int | None = None,
    nproc: int = 1,
    chunksize: int = 1,
    description: str = "Processing",
    color: str = "blue",
) -> list:
    """Runs ``func`` on every task (in ``nproc`` processes) with a ``rich`` progress bar.

    Args:
        func: What to run. Each task is its arguments: a tuple or list (positional), a dict
            (keywords), or a single value.
        tasks: The tasks; empty when ``func`` takes no arguments (then give ``task_num``).
        task_num: How many tasks; needed when ``tasks`` is empty or has no length.
        nproc: Worker processes (1: run here, in turn).
        chunksize: Tasks handed to a worker at a time.
        description: The bar's label.
        color: The label's colour.

    Returns:
        The results, in task order.
    """
    try:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
    except ImportError as err:
        raise ImportError("track_progress_rich needs rich: pip install rich") from err

    if not callable(func):
        raise TypeError(f"func must be a callable object, got {func!r}")
    if not isinstance(tasks, Iterable):
        raise TypeError(f"tasks must be an iterable object, got {type(tasks).__name__}")
    if isinstance(tasks, Sized):
        if len(tasks) == 0:
            if task_num is None:
                raise ValueError("If tasks is an empty iterable, task_num must be set")
            tasks = tuple(() for _ in range(task_num))
        elif task_num is not None and task_num != len(tasks):
            raise ValueError(f"task_num ({task_num}) does not match len(tasks) ({len(tasks)})")
        else:
            task_num = len(tasks)
    if nproc <= 0:
        raise ValueError(f"nproc must be a positive number, got {nproc}")
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True),
    )
    worker = _Worker(func)
    indexed = ((task, index) for index, task in enumerate(tasks))
    task_id = bar.add_task(total=task_num, description=f"[{color}]{description}")
    by_index: dict[int, Any] = {}
    with bar:
        if nproc == 1:
            results = (worker(item) for item in indexed)
            for result, index in results:
                by_index[index] = result
                bar.update(task_id, advance=1, refresh=True)
        else:
            from multiprocessing import Pool

            with Pool(nproc) as pool:
                for result, index in pool.imap_unordered(worker, indexed, chunksize):
                    by_index[index] = result
                    bar.update(task_id, advance=1, refresh=True)
    return [by_index[index] for index in range(len(by_index))]
