"""ProgressBarHook: a live progress display of training, validation and testing on a terminal.

The bars are drawn by ``rich`` (``Live``) on its own thread every ``refresh_interval``. The
hook's cost per iteration is one attribute test: each redraw raises a flag, and only the next
iteration that sees it reads the message hub, converts the latest loss and lr to numbers and
hands the display new figures (so at most once per redraw; nothing is converted or formatted
in between). While the bars are shown, the log handlers that write to the same screen and
``sys.stdout``/``sys.stderr`` only queue their text; each redraw prints the queued lines above
the bars, so log lines never break them and cost the loop an append.

When the output is not an interactive terminal (a file, a pipe, CI) the hook does nothing:
``LoggerHook``'s periodic lines are then the whole output. Without a ``LoggerHook`` such runs
print nothing during training, by choice: the bars are for people watching a terminal, the
log for everything else.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from torchrig.logging import MessageHub
    from torchrig.runner import Runner

__all__ = ["ProgressBarHook"]

_BAR_WIDTH = 30

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


class _Row(NamedTuple):
    """What one bar shows; replaced whole (never changed in place) by the training thread,
    read by the drawing thread."""

    description: str
    completed: int
    total: int | None
    started: float  # time.perf_counter() when the bar's work started
    rate: float | None = None  # iterations per second; None: completed / elapsed
    eta: float | None = None  # seconds left; None: from the rate and the total
    metrics: str = ""


_MIN_BAR_WIDTH = 8


def _render_row(row: _Row, now: float, width: int | None = None) -> Text:
    """``description ━━━━━━━╺━━━━ 12/45 391.2 it/s 0:00:03<0:00:10 loss 0.0440  lr 3.000e-03``

    When the line is wider than ``width`` columns, the losses and learning rates stay: the bar
    narrows first, then the speed goes, then the time elapsed, then the bar.
    """
    from rich.text import Text

    elapsed = now - row.started
    rate = row.rate
    if rate is None and row.completed and elapsed > 0:
        rate = row.completed / elapsed
    eta = row.eta
    if eta is None and rate and row.total is not None:
        eta = (row.total - row.completed) / rate
    if row.total:
        count = f"{row.completed}/{row.total}".rjust(2 * len(str(row.total)) + 1)
    else:
        count = f"{row.completed}/?"
    description = f"{row.description:<12} "
    times = f"{_format_seconds(elapsed)}<{_format_seconds(eta)}"
    metrics = f"  {row.metrics}" if row.metrics else ""
    speed: str | None = _format_rate(rate)
    bar_width: int | None = _BAR_WIDTH
    if width is not None:

        def length() -> int:
            bar = bar_width + 1 if bar_width is not None else 0
            return (
                len(description)
                + bar
                + len(count)
                + len(times)
                + len(metrics)
                + 2
                + (len(speed) + 1 if speed is not None else 0)
            )

        bar_width = max(_MIN_BAR_WIDTH, _BAR_WIDTH - max(length() - width, 0))
        if length() > width:
            speed = None
        if length() > width:
            times = f"eta {_format_seconds(eta)}"
        if length() > width:
            bar_width = None
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(description, "bold")
    if bar_width is not None:
        if row.total:
            filled = min(bar_width, bar_width * row.completed // row.total)
            text.append("━" * filled, "green" if filled == bar_width else "magenta")
            text.append("━" * (bar_width - filled), "bright_black")
        else:
            text.append("━" * bar_width, "bright_black")
        text.append(" ")
    text.append(f"{count} ", "green")
    if speed is not None:
        text.append(f"{speed} ", "cyan")
    text.append(times, "yellow")
    if metrics:
        text.append(metrics)
    return text


class _RawLines:
    """Text lines printed as they are (their colour codes included): no markup, wrapping or
    measuring, which keeps printing log lines above the bars cheap."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Iterable[Any]:
        from rich.segment import Segment

        new_line = Segment.line()
        for line in self.text.split("\n"):
            yield Segment(line)
            yield new_line


class _LinesAbove(io.TextIOBase):
    """What log handlers, ``sys.stdout`` and ``sys.stderr`` write to while the display runs.

    Writing only queues the text (shared by all of them, so their order is kept); the display
    prints the queued lines above the bars at its next redraw, on its own thread. A log line
    thus costs the training loop an append, and the bars are drawn again once per redraw
    rather than once per line.
    """

    def __init__(self, queue: list[str], original: Any) -> None:
        self._queue = queue
        self._original = original

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._queue.append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing: the queued text is printed at the next redraw (``StreamHandler`` flushes
        after every record)."""

    def isatty(self) -> bool:
        return bool(getattr(self._original, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", None) or "utf-8"

    @property
    def rich_proxied_file(self) -> Any:
        """The stream this one stands for (rich looks for this name)."""
        return self._original


class _Display:
    """Bars drawn by a started rich ``Live`` on its own thread, with the log handlers that
    write to its screen, and ``sys.stdout``/``sys.stderr`` when it draws on a terminal, routed
    above the bars. ``rows`` holds a :class:`_Row` per bar, in the order they are drawn.

    ``stop()`` prints what is still queued, restores the terminal, the handlers and the
    standard streams; it also runs at interpreter exit when nobody called it (an exception
    that ended the program), and may be called many times.
    """

    def __init__(
        self,
        console: Console,
        refresh_interval: float,
        on_redraw: Any,
        transient: bool,
        loggers: Iterable[logging.Logger],
    ) -> None:
        self.console = console
        self._queue: list[str] = []
        self._partial = ""
        self._on_redraw = on_redraw
        self._stopped = False
        self.rows: dict[str, _Row] = {}
        from rich.live import Live

        self.live = Live(
            console=console,
            get_renderable=self._redraw,
            refresh_per_second=1.0 / refresh_interval,
            transient=transient,
            redirect_stdout=False,  # routed below, in order with the log lines
            redirect_stderr=False,
        )
        self._rerouted: list[tuple[logging.StreamHandler, Any]] = []
        for handler in _terminal_handlers(loggers, console):
            original = handler.stream
            handler.setStream(_LinesAbove(self._queue, original))
            self._rerouted.append((handler, original))
        self._standard: dict[str, tuple[Any, _LinesAbove]] = {}
        if console.is_terminal:
            for name in ("stdout", "stderr"):
                original = getattr(sys, name)
                if not isinstance(original, _LinesAbove):
                    proxy = _LinesAbove(self._queue, original)
                    self._standard[name] = (original, proxy)
                    setattr(sys, name, proxy)
        atexit.register(self.stop)
        try:
            self.live.start(refresh=True)
        except BaseException:
            self.stop()
            raise

    def _redraw(self) -> Any:
        """The bars to draw; first prints the queued lines above them and tells the hook it
        may hand over fresh figures (the next iteration does)."""
        from rich.console import Group

        self.print_queued()
        self._on_redraw()
        now = time.perf_counter()
        width = self.console.width
        return Group(*(_render_row(row, now, width) for row in list(self.rows.values())))

    def refresh(self) -> None:
        """Redraw now (the drawing thread does it every ``refresh_interval``)."""
        self.live.refresh()

    def print_queued(self, final: bool = False) -> None:
        """Print the complete lines queued so far above the bars (all text when ``final``)."""
        queue = self._queue
        count = len(queue)
        if count:
            text = self._partial + "".join(queue[:count])
            del queue[:count]  # text queued meanwhile, by another thread, stays
        else:
            text = self._partial
        if final:
            lines, self._partial = text.removesuffix("\n"), ""
            if not text:
                return
        else:
            lines, newline, self._partial = text.rpartition("\n")
            if not newline:
                return
        self.console.print(_RawLines(lines), crop=False, soft_wrap=True)

    def stop(self) -> None:
        """Stop drawing; print what is queued; restore the terminal, handlers and streams."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            self.live.stop()
        finally:
            for handler, original in self._rerouted:
                handler.setStream(original)
            self._rerouted.clear()
            for name, (original, proxy) in self._standard.items():
                if getattr(sys, name) is proxy:  # unless someone replaced it since
                    setattr(sys, name, original)
            self._standard.clear()
            self.print_queued(final=True)


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
        self._display.rows["train"] = _Row(description, completed, total, now)

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
        self._show_exact_train_counts(runner, eta=0.0)  # the last epoch (or iteration) done
        if self._opened_for == "train":
            self.close()

    def _show_exact_train_counts(self, runner: Runner, eta: float | None = None) -> None:
        """The train bar's figures as they are now (iterations only update it at redraws):
        at the end of an epoch, before validation and at the end of training, so the bar
        never shows the count of an earlier redraw while nothing trains."""
        if self._display is None or "train" not in self._display.rows:
            return
        due = self._due  # the next iteration still hands over after a redraw meanwhile
        done = runner.iter
        if self._train_by_epoch and self._epoch_len:
            epoch = max(-(-done // self._epoch_len), 1)  # the epoch of the last iteration done
            in_epoch = min(max(done - (epoch - 1) * self._epoch_len, 0), self._epoch_len)
            self._update_train(runner, in_epoch, done, eta=eta, epoch=epoch)
        else:
            self._update_train(runner, done, done, eta=eta)
        self._due = due

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
        display = self._display
        row = display.rows.get("train") if display is not None else None
        if display is None or row is None:
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
        if self._train_by_epoch:
            epoch = runner.epoch + 1 if epoch is None else epoch
            row = row._replace(description=f"Epoch {epoch}/{runner.max_epochs}", completed=in_epoch)
        else:
            row = row._replace(completed=done)
        display.rows["train"] = row._replace(rate=self._rate, eta=eta, metrics=self._metrics(hub))

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
            except (ValueError, TypeError, RuntimeError):  # nothing logged yet, or not a number
                continue  # the display never stops a run; LoggerHook reports such values
            name = key.split("/", 1)[-1]
            parts.append(f"{name} {value:.3e}" if _is_lr(name) else f"{name} {value:.4f}")
        return "  ".join(parts)

    # ------------------------------------------------------------------ val and test
    def _before_epoch(self, runner: Runner, mode: str = "train") -> None:
        if mode == "train":
            return
        self._show_exact_train_counts(runner)
        if not self._open(runner, mode):
            return
        assert self._display is not None
        dataloader = runner.val_dataloader if mode == "val" else runner.test_dataloader
        self._display.rows["eval"] = _Row(
            mode.capitalize(), 0, _length(dataloader), time.perf_counter()
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
            display = self._display
            row = display.rows.get("eval") if display is not None else None
            if display is not None and row is not None:
                display.rows["eval"] = row._replace(completed=batch_idx + 1)

    def _after_epoch(self, runner: Runner, mode: str = "train") -> None:
        if mode == "train":
            self._show_exact_train_counts(runner)
            return
        if self._display is None:
            return
        self._display.rows.pop("eval", None)
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
