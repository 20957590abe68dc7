"""ProgressBarHook: a live progress display of training, validation and testing on a terminal.

The display is drawn by ``rich`` on its own refresh thread. The hook's cost per iteration is
one attribute test: each time the display is redrawn (``refresh_interval``) it raises a flag,
and only the next iteration that sees the flag reads the message hub, converts the latest
loss and lr to numbers and hands them to the display (formatting is done there, at most once
per refresh). Nothing is converted, formatted or drawn in between.

When the output is not an interactive terminal (a file, a pipe, CI) the hook does nothing:
``LoggerHook``'s periodic lines are then the whole output. Without a ``LoggerHook`` such runs
print nothing during training, by choice: the progress display is for people watching a
terminal, the log for everything else.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from torchrig.logging import MessageHub
    from torchrig.runner import Runner

__all__ = ["ProgressBarHook"]

# Set (to anything but an empty/false value) by common CI services: no live display there.
_CI_VARIABLES = (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "TEAMCITY_VERSION",
    "TF_BUILD",
    "TRAVIS",
)


def _in_ci() -> bool:
    """Whether a CI service's environment variable is set."""
    for name in _CI_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.strip().lower() not in ("", "0", "false", "no"):
            return True
    return False


def _length(dataloader: Any) -> int | None:
    try:
        return len(dataloader)
    except TypeError:  # an iterable without a length
        return None


def _format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-:--:--"
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _format_rate(rate: float | None) -> str:
    if not rate:
        return "-- it/s"
    return f"{rate:.1f} it/s" if rate >= 1 else f"{1 / rate:.2f} s/it"


def _is_lr(name: str) -> bool:
    return name == "lr" or name.endswith(("_lr", ".lr"))


def _shown_by_default(key: str) -> bool:
    """Train losses and learning rates (``train/loss``, ``train/loss_cls``, ``train/lr``,
    ``train/generator.lr``); not times or other scalars."""
    if not key.startswith("train/"):
        return False
    name = key[len("train/") :]
    return "loss" in name or _is_lr(name)


def _is_epoch_based(loop: Any) -> bool:
    from torchrig.runner.loops import IterBasedTrainLoop

    return not isinstance(loop, IterBasedTrainLoop)


def _terminal_handlers(
    loggers: Iterable[logging.Logger], console: Console
) -> list[logging.StreamHandler]:
    """The console handlers of ``loggers`` that write where the display is drawn: to the
    console's own file, or to a standard stream that is a terminal (the same screen)."""
    target = getattr(console.file, "rich_proxied_file", console.file)
    standard = {id(s) for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}
    found = []
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not isinstance(handler, logging.StreamHandler) or isinstance(
                handler, logging.FileHandler
            ):
                continue
            stream = handler.stream
            if stream is target:
                found.append(handler)
            elif id(stream) in standard and console.is_terminal:
                try:
                    if stream.isatty():
                        found.append(handler)
                except (AttributeError, ValueError):
                    pass
    return found


class _Display:
    """A started rich ``Progress`` with the log handlers that write to its screen routed
    through its console (so their lines appear above the bars instead of breaking them).

    ``stop()`` restores the terminal and the handlers; it also runs at interpreter exit when
    nobody called it (an exception that ended the program), and may be called many times.
    """

    def __init__(
        self,
        console: Console,
        refresh_interval: float,
        on_render: Any,
        transient: bool,
        loggers: Iterable[logging.Logger],
    ) -> None:
        from rich.file_proxy import FileProxy

        self.progress = _make_progress(console, refresh_interval, on_render, transient)
        self._rerouted: list[tuple[logging.StreamHandler, Any]] = []
        for handler in _terminal_handlers(loggers, console):
            original = handler.stream
            handler.setStream(FileProxy(console, original))
            self._rerouted.append((handler, original))
        self._stopped = False
        atexit.register(self.stop)
        try:
            self.progress.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop drawing, leave the terminal as it was and restore the log handlers."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            self.progress.stop()
        finally:
            for handler, original in self._rerouted:
                proxy = handler.setStream(original)
                if proxy is not None:
                    proxy.flush()
            self._rerouted.clear()


def _make_progress(
    console: Console, refresh_interval: float, on_render: Any, transient: bool
) -> Progress:
    """A rich ``Progress`` with the hook's columns; ``on_render()`` runs at each redraw."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
    )
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        """Iterations per second: the hook's smoothed figure, else rich's estimate."""

        def render(self, task: Task) -> Text:
            rate = task.fields.get("rate")
            return Text(_format_rate(rate if rate is not None else task.speed), "cyan")

    class _TimeColumn(ProgressColumn):
        """``elapsed<eta`` (the eta of the whole training for the train bar)."""

        def render(self, task: Task) -> Text:
            started = task.fields.get("started")
            elapsed = time.perf_counter() - started if started is not None else task.elapsed
            eta = task.fields.get("eta")
            if eta is None:
                eta = task.time_remaining
            return Text(f"{_format_seconds(elapsed)}<{_format_seconds(eta)}", "yellow")

    class _Progress(Progress):
        def get_renderables(self) -> Iterable[Any]:
            on_render()
            yield from super().get_renderables()

    return _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        _RateColumn(),
        _TimeColumn(),
        TextColumn("{task.fields[metrics]}", markup=False),
        console=console,
        refresh_per_second=1.0 / refresh_interval,
        transient=transient,
        redirect_stdout=True,
        redirect_stderr=True,
    )


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A live progress display (rich) of training, validation and testing, on rank 0.

    Training shows ``Epoch 3/20`` with the iterations of the epoch (epoch-based loops) or
    ``Iter`` with the iterations of the run (iteration-based), the speed, the time elapsed and
    the estimated time left of the whole training, and the latest losses and learning rates
    from ``runner.message_hub``. Validation and testing get a second bar that disappears when
    they end. Log lines and ``print`` output appear above the bars.

    By default the display is on only when standard output is an interactive terminal and no
    CI service's variable (``CI``, ``GITHUB_ACTIONS``, ...) is set; otherwise the hook does
    nothing and ``LoggerHook``'s lines are the output.

    Args:
        enable: ``None`` decides as above; ``True`` draws the display even when the output is
            not a terminal (still on rank 0 only); ``False`` turns the hook off.
        refresh_interval: Seconds between redraws; the message hub is read at most this often.
        keys: Message-hub scalars to show (e.g. ``['train/loss', 'train/acc']``); by default
            every ``train/`` scalar whose name contains ``loss`` and the learning rates.
        by_epoch: Show epochs (``True``) or iterations (``False``); by default from the train
            loop (iterations for ``IterBasedTrainLoop``).
        console: The rich ``Console`` to draw on (for tests and embedding); by default a new
            one on standard output. A given console decides by its ``is_interactive``.

    Note:
        When a run fails, the display is stopped by :meth:`on_exception` if the runner calls it,
        and otherwise when the interpreter exits; :meth:`close` stops it at any time.
    """

    priority = "LOW"

    def __init__(
        self,
        enable: bool | None = None,
        refresh_interval: float = 0.25,
        keys: Sequence[str] | None = None,
        by_epoch: bool | None = None,
        console: Console | None = None,
    ) -> None:
        if enable is not None and not isinstance(enable, bool):
            raise TypeError(f"ProgressBarHook: enable must be True, False or None, got {enable!r}")
        if (
            isinstance(refresh_interval, bool)
            or not isinstance(refresh_interval, (int, float))
            or not refresh_interval > 0
        ):
            raise ValueError(
                "ProgressBarHook: refresh_interval must be a positive number of seconds, got "
                f"{refresh_interval!r}"
            )
        if keys is not None and (
            isinstance(keys, str) or not all(isinstance(k, str) for k in keys)
        ):
            raise TypeError(f"ProgressBarHook: keys must be a list of strings, got {keys!r}")
        if by_epoch is not None and not isinstance(by_epoch, bool):
            raise TypeError(
                f"ProgressBarHook: by_epoch must be True, False or None, got {by_epoch!r}"
            )
        self.enable = enable
        self.refresh_interval = float(refresh_interval)
        self.keys = list(keys) if keys is not None else None
        self.by_epoch = by_epoch
        self.console = console
        self._display: _Display | None = None
        self._opened_for: str | None = None
        # Raised by the display's thread at each redraw, lowered by the next iteration that
        # hands the display fresh figures: the only per-iteration work is testing it.
        self._due = False
        self._train_task: TaskID | None = None
        self._eval_task: TaskID | None = None
        self._train_by_epoch = True
        self._epoch_len: int | None = None
        self._rate: float | None = None
        self._anchor = (0.0, 0)

    # ------------------------------------------------------------------ the display
    def _mark_due(self) -> None:
        self._due = True

    def _make_console(self) -> Console | None:
        """The console to draw on, or None when the display should stay off."""
        if self.console is not None:
            if self.enable or (self.console.is_interactive and not _in_ci()):
                return self.console
            return None
        if not self.enable:
            try:
                if not sys.stdout.isatty() or _in_ci():
                    return None
            except (AttributeError, ValueError):
                return None
        from rich.console import Console

        if self.enable:
            return Console(force_terminal=True, force_interactive=True)
        console = Console()
        return console if console.is_interactive else None

    def _open(self, runner: Runner, mode: str) -> bool:
        """Start the display for ``mode`` unless it is off here; whether it is running."""
        if self._display is not None:
            return True
        if self.enable is False or getattr(runner, "rank", 0) != 0:
            return False
        console = self._make_console()
        if console is None:
            return False
        loggers = [logging.getLogger()]
        if isinstance(getattr(runner, "logger", None), logging.Logger):
            loggers.insert(0, runner.logger)
        self._display = _Display(
            console, self.refresh_interval, self._mark_due, mode != "train", loggers
        )
        self._opened_for = mode
        return True

    def close(self) -> None:
        """Stop the display (if running) and restore the terminal and the log handlers."""
        display, self._display = self._display, None
        self._opened_for = None
        self._train_task = self._eval_task = None
        try:
            if display is not None:
                display.stop()
        finally:
            self._due = False

    def on_exception(self, runner: Runner, exception: BaseException | None = None) -> None:
        """Stop the display when a run fails, before the error is reported.

        Args:
            runner: The runner.
            exception: The error that ended the run.
        """
        self.close()

    # ------------------------------------------------------------------ training
    def before_train(self, runner: Runner) -> None:
        if not self._open(runner, "train"):
            return
        assert self._display is not None
        by_epoch = self.by_epoch
        self._train_by_epoch = _is_epoch_based(runner.train_loop) if by_epoch is None else by_epoch
        self._epoch_len = _length(runner.train_dataloader)
        if self._train_by_epoch:
            description = f"Epoch {runner.epoch + 1}/{runner.max_epochs}"
            total, completed = self._epoch_len, 0
        else:
            description, total, completed = "Iter", runner.max_iters, runner.iter
        now = time.perf_counter()
        self._rate = None
        self._anchor = (now, runner.iter)
        self._train_task = self._display.progress.add_task(
            description,
            total=total,
            completed=completed,
            metrics="",
            rate=None,
            eta=None,
            started=now,
        )

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        if self._due:
            self._update_train(runner, batch_idx + 1, runner.iter + 1)

    def after_train(self, runner: Runner) -> None:
        if self._train_task is not None:
            # The final figures: the last epoch (or all iterations) complete.
            done = runner.iter
            if self._train_by_epoch and self._epoch_len:
                epoch = max(runner.epoch, 1)
                in_epoch = min(max(done - (epoch - 1) * self._epoch_len, 0), self._epoch_len)
                self._update_train(runner, in_epoch, done, eta=0.0, epoch=epoch)
            else:
                self._update_train(runner, done, done, eta=0.0)
        if self._opened_for == "train":
            self.close()
        self._train_task = None

    def _update_train(
        self,
        runner: Runner,
        in_epoch: int,
        done: int,
        eta: float | None = None,
        epoch: int | None = None,
    ) -> None:
        """Hand the display the train bar's figures (at most once per redraw)."""
        self._due = False
        display, task = self._display, self._train_task
        if display is None or task is None:
            return
        now = time.perf_counter()
        anchor_time, anchor_done = self._anchor
        if now > anchor_time and done > anchor_done:
            rate = (done - anchor_done) / (now - anchor_time)
            self._rate = rate if self._rate is None else self._rate + 0.3 * (rate - self._rate)
            self._anchor = (now, done)
        hub = runner.message_hub
        if eta is None:
            eta = hub.get_info("eta")
            if eta is None and self._rate:
                eta = (runner.max_iters - done) / self._rate
        fields: dict[str, Any] = dict(rate=self._rate, eta=eta, metrics=self._metrics(hub))
        if self._train_by_epoch:
            epoch = runner.epoch + 1 if epoch is None else epoch
            fields.update(description=f"Epoch {epoch}/{runner.max_epochs}", completed=in_epoch)
        else:
            fields.update(completed=done)
        display.progress.update(task, **fields)

    def _metrics(self, hub: MessageHub) -> str:
        """``name value`` for each shown scalar, from its latest value."""
        scalars = hub.log_scalars
        keys = self.keys if self.keys is not None else [k for k in scalars if _shown_by_default(k)]
        parts = []
        for key in keys:
            buffer = scalars.get(key)
            if buffer is None:
                continue
            try:
                value = float(buffer.current())
            except ValueError:  # nothing logged yet
                continue
            name = key.split("/", 1)[-1]
            parts.append(f"{name} {value:.3e}" if _is_lr(name) else f"{name} {value:.4f}")
        return "  ".join(parts)

    # ------------------------------------------------------------------ val and test
    def _before_epoch(self, runner: Runner, mode: str = "train") -> None:
        if mode == "train" or not self._open(runner, mode):
            return
        assert self._display is not None
        dataloader = runner.val_dataloader if mode == "val" else runner.test_dataloader
        self._eval_task = self._display.progress.add_task(
            mode.capitalize(),
            total=_length(dataloader),
            metrics="",
            rate=None,
            eta=None,
            started=None,
        )

    def _after_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        # Only val and test come here: after_train_iter is overridden above.
        if self._due:
            self._due = False
            if self._display is not None and self._eval_task is not None:
                self._display.progress.update(self._eval_task, completed=batch_idx + 1)

    def _after_epoch(self, runner: Runner, mode: str = "train") -> None:
        if mode == "train" or self._display is None or self._eval_task is None:
            return
        self._display.progress.remove_task(self._eval_task)
        self._eval_task = None
        # Training's speed is measured from here again, not across the validation.
        self._anchor = (time.perf_counter(), runner.iter)

    def after_val(self, runner: Runner) -> None:
        if self._opened_for == "val":
            self.close()

    def after_test(self, runner: Runner) -> None:
        if self._opened_for == "test":
            self.close()

    def after_run(self, runner: Runner) -> None:
        self.close()
