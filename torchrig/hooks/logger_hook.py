"""LoggerHook: writes log lines and sends scalars to the visualizer at the right step."""

from __future__ import annotations

import functools
import os
import os.path as osp
import shutil
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.hooks.runtime_info_hook import _is_scalar
from torchrig.logging import MMLogger
from torchrig.registry import HOOKS
from torchrig.utils import HeldSources

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["LoggerHook"]

# Hook's own helpers: ``after_train_iter`` inlines them unless a subclass overrides them.
_EVERY_N_TRAIN_ITERS = Hook.every_n_train_iters
_EVERY_N_INNER_ITERS = Hook.every_n_inner_iters
_HOLD = 64  # iterations held at most (see LoggerHook._hold)


_LOG_PROCESSOR: list[type] = []


def _log_processor_class() -> type:
    """``LogProcessor`` (imported on first use: the runner package is heavier than hooks)."""
    if not _LOG_PROCESSOR:
        from torchrig.runner.log_processor import LogProcessor

        _LOG_PROCESSOR.append(LogProcessor)
    return _LOG_PROCESSOR[0]


def _completed_train_iters(runner: Runner) -> tuple[int, int]:
    """``(epoch, iter)`` of training so far. A val/test-only Runner answers without building
    a train loop: the position of the checkpoint it loaded, or 0."""
    return runner.epoch, runner.iter


def _plain(value: Any) -> Any:
    """``value`` with tensors and numpy values turned into Python numbers/lists (for json)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return value


@HOOKS.register_module()
class LoggerHook(Hook):
    """Logs through ``runner.log_processor`` and ``runner.logger``; feeds the visualizer.

    Train scalars are sent every ``interval`` iterations with ``step = runner.iter + 1``
    (completed iterations); val and test metrics after each val/test epoch with
    ``step = runner.iter`` (iterations completed when they were computed), so every scalar
    shares one x-axis. Each dict sent carries ``epoch`` and ``iter`` fields.

    Args:
        interval: Log every this many iterations (counted within the epoch for epoch-based
            training, globally for iteration-based).
        ignore_last: Skip the last, incomplete interval of an epoch.
        interval_exp_name: Print the experiment name every this many iterations (and at
            the end of each epoch).
        out_dir: If given, files in ``runner.log_dir`` with a suffix in ``out_suffix`` are
            copied to ``out_dir/<basename of work_dir>`` after the run.
        out_suffix: Suffixes of the files copied to ``out_dir``.
        keep_local: Keep the local files after copying them to ``out_dir``.
        file_client_args: Deprecated; kept for MMEngine configs (local files only).
        log_metric_by_epoch: Kept for MMEngine configs. Metrics always use the iteration
            as their step (the epoch is a field of every record).
        backend_args: Kept for MMEngine configs (local files only).
        flush_interval: Iteration lines are written to the console and the log file, and
            their scalars sent to the visualizer, at least this often (seconds) while they
            keep coming, several in one write (see :meth:`MMLogger.defer
            <torchrig.logging.MMLogger.defer>`). Lines less than a tenth of it apart are
            also made together, from a snapshot taken at their iteration (the same values;
            at most 64 at a time). Any other line or visualizer data, the end of each epoch,
            a checkpoint, an exception and the end of the run write them first. 0 writes
            each line, and sends its scalars, as it comes.
    """

    priority = "BELOW_NORMAL"

    def __init__(
        self,
        interval: int = 10,
        ignore_last: bool = True,
        interval_exp_name: int = 1000,
        out_dir: str | None = None,
        out_suffix: str | Sequence[str] = (".json", ".log", ".py", "yaml"),
        keep_local: bool = True,
        file_client_args: dict | None = None,
        log_metric_by_epoch: bool = True,
        backend_args: dict | None = None,
        flush_interval: float = 0.1,
    ) -> None:
        if not isinstance(interval, int) or interval <= 0:
            raise ValueError(f"LoggerHook: interval must be a positive int, got {interval!r}")
        if not isinstance(interval_exp_name, int) or interval_exp_name <= 0:
            raise ValueError(
                f"LoggerHook: interval_exp_name must be a positive int, got {interval_exp_name!r}"
            )
        if out_dir is not None and not isinstance(out_dir, str):
            raise TypeError(f"LoggerHook: out_dir must be a str or None, got {type(out_dir)}")
        if file_client_args is not None and backend_args is not None:
            raise ValueError(
                "LoggerHook: give backend_args or file_client_args (deprecated), not both"
            )
        if not isinstance(flush_interval, (int, float)) or flush_interval < 0:
            raise ValueError(
                f"LoggerHook: flush_interval must be a number >= 0, got {flush_interval!r}"
            )
        if isinstance(out_suffix, str):
            out_suffix = (out_suffix,)
        if not isinstance(out_suffix, Sequence) or not all(isinstance(s, str) for s in out_suffix):
            raise TypeError(f"LoggerHook: out_suffix must be a str or strs, got {out_suffix!r}")
        if not keep_local and out_dir is None:
            raise ValueError("LoggerHook: keep_local=False removes the logs; give out_dir too")
        self.interval = interval
        self.ignore_last = ignore_last
        self.interval_exp_name = interval_exp_name
        self.out_dir = out_dir
        self.out_suffix = tuple(out_suffix)
        self.keep_local = keep_local
        self.file_client_args = file_client_args
        self.log_metric_by_epoch = log_metric_by_epoch
        self.backend_args = backend_args
        self.flush_interval = float(flush_interval)
        self.json_log_path: str | None = None
        self._current_epoch_len: int | None = None  # the running train epoch's length
        # Iterations logged but not yet turned into lines and rows (see _hold), the time the
        # first was held, the thread holding them, and the time of the last train iteration.
        self._held: list[tuple] = []
        self._held_since = 0.0
        self._holder: int | None = None
        self._last_iter_end = 0.0
        self._sources: dict[int, Any] = {}  # id(runner) -> its release callable

    def before_run(self, runner: Runner) -> None:
        if self.out_dir is not None:
            basename = osp.basename(str(runner.work_dir).rstrip(osp.sep))
            self.out_dir = osp.join(self.out_dir, basename)
            runner.logger.info(f"Text logs will be copied to {self.out_dir} after the run.")
        self.json_log_path = f"{runner.timestamp}.json"

    def before_train_epoch(self, runner: Runner) -> None:
        self._current_epoch_len = self._train_epoch_len(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        self._current_epoch_len = None
        self._write_out(runner)

    def after_train(self, runner: Runner) -> None:
        self._write_out(runner)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self._write_out(runner)

    def on_exception(self, runner: Runner, exception: BaseException) -> None:
        self._release(runner)

    def _hold(self, runner: Runner, batch_idx: int) -> bool:
        """Hold this iteration's line and row (a snapshot of where the scalars stand, a few
        microseconds) to make them later, together with the next ones: at most ``_HOLD``
        iterations or ``flush_interval`` seconds, and before anything else is logged or sent
        to the visualizer (both call :meth:`_release` first), an epoch ends, a checkpoint is
        saved or the run stops. Made in one go, a line costs a fraction of what it costs
        between the steps of a small model. False (nothing held) where the log processor,
        the logger or slow iterations (longer than a tenth of ``flush_interval``) ask for
        the line at once."""
        now = time.monotonic()
        gap, self._last_iter_end = now - self._last_iter_end, now
        processor, logger = runner.log_processor, runner.logger
        if (
            self.flush_interval <= 0
            or gap > self.flush_interval / 10
            or type(processor) is not _log_processor_class()
            or not isinstance(logger, MMLogger)
            or not isinstance(getattr(runner.visualizer, "held", None), HeldSources)
        ):
            return False
        snapshot = processor.snapshot_after_iter(runner, batch_idx)
        if snapshot is None:
            return False
        held = self._held
        if not held:
            self._held_since, self._holder = now, threading.get_ident()
            logger.held.add(self._release_source(runner))
            runner.visualizer.held.add(self._release_source(runner))
        held.append((time.time(), snapshot))
        if len(held) >= _HOLD or now - self._held_since >= self.flush_interval:
            self._release(runner)
        return True

    def _release_source(self, runner: Runner) -> Any:
        """The callable the logger and the visualizer call before anything else goes out
        (one per runner, so that adding it twice adds it once)."""
        source = self._sources.get(id(runner))
        if source is None:
            source = self._sources[id(runner)] = functools.partial(self._release, runner)
        return source

    def _release(self, runner: Runner) -> None:
        """Make the held iterations' lines and rows, in order: the lines go to the logger
        (written together), the rows to the visualizer. Only the thread that held them does
        (a tracker's warning from a writer thread goes out before them)."""
        held = self._held
        if not held or threading.get_ident() != self._holder:
            return
        self._held = []
        source = self._sources.get(id(runner))
        runner.logger.held.discard(source)
        runner.visualizer.held.discard(source)
        make = runner.log_processor.log_from_snapshot
        made = [(created, *make(snapshot)) for created, snapshot in held]
        runner.logger.log_lines([(created, line) for created, _, line in made])
        add_scalars, path = runner.visualizer.add_scalars, self.json_log_path
        for _, tag, _ in made:
            add_scalars(tag, step=tag["iter"], file_path=path)

    def _write_out(self, runner: Runner) -> None:
        """Make the held iterations and write every deferred line (an epoch's end, a
        checkpoint, the end of training)."""
        self._release(runner)
        if isinstance(runner.logger, MMLogger):  # (other loggers hold no lines)
            runner.logger.flush()

    def _log_line(self, runner: Runner, line: str) -> None:
        """An iteration's line: deferred (written with the others of ``flush_interval``)."""
        logger = runner.logger
        if self.flush_interval > 0 and isinstance(logger, MMLogger):
            logger.defer(line, self.flush_interval)
        else:
            logger.info(line)

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        epoch_len = self._current_epoch_len
        if epoch_len is None:  # called outside a train loop's epoch
            epoch_len = self._train_epoch_len(runner)
        last_of_epoch = batch_idx + 1 == epoch_len
        interval = self.interval
        if type(self).every_n_train_iters is _EVERY_N_TRAIN_ITERS:  # inlined: once an iteration
            n = self.interval_exp_name
            exp_name_due = n > 0 and (runner.iter + 1) % n == 0
        else:
            exp_name_due = self.every_n_train_iters(runner, self.interval_exp_name)
        if exp_name_due or last_of_epoch:
            self._release(runner)
            runner.logger.info(f"Exp name: {runner.experiment_name}")
        if type(self).every_n_inner_iters is _EVERY_N_INNER_ITERS:
            inner_due = interval > 0 and (batch_idx + 1) % interval == 0
        else:
            inner_due = self.every_n_inner_iters(batch_idx, interval)
        if not (inner_due or (last_of_epoch and (not self.ignore_last or epoch_len <= interval))):
            return
        if self._hold(runner, batch_idx):
            return
        self._release(runner)
        tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, "train")
        self._log_line(runner, log_str)
        step = runner.iter + 1
        if "epoch" not in tag or "iter" not in tag:  # (a log processor of one's own)
            tag = dict(tag)
            tag.setdefault("epoch", runner.epoch + 1)
            tag.setdefault("iter", step)
        runner.visualizer.add_scalars(tag, step=step, file_path=self.json_log_path)

    @staticmethod
    def _train_epoch_len(runner: Runner) -> int:
        """``len(runner.train_dataloader)``, -1 without one (read once per epoch)."""
        try:
            return len(runner.train_dataloader)
        except TypeError:  # an iterable dataset without a length: no epoch end to mark
            return -1

    def after_val_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, "val")
            self._log_line(runner, log_str)

    def after_test_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, "test")
            self._log_line(runner, log_str)

    def after_val_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.val_dataloader), "val"
        )
        runner.logger.info(log_str)
        self._send_metrics(runner, tag)

    def after_test_epoch(self, runner: Runner, metrics: dict[str, Any] | None = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), "test", with_non_scalar=True
        )
        runner.logger.info(log_str)
        if self.json_log_path is not None:
            from torchrig.fileio import dump

            os.makedirs(runner.log_dir, exist_ok=True)
            dump(_plain(tag), osp.join(runner.log_dir, self.json_log_path))
        # Test metrics land on the same step as the last validation; a `test/` prefix keeps
        # them apart from the validation values of the same names in every tracker.
        self._send_metrics(runner, tag, prefix="test/")

    def _send_metrics(self, runner: Runner, tag: dict[str, Any], prefix: str = "") -> None:
        epoch, step = _completed_train_iters(runner)
        scalars = {
            key if key.startswith(prefix) or key in ("epoch", "iter") else prefix + key: value
            for key, value in tag.items()
            if _is_scalar(value)
        }
        scalars.setdefault("epoch", epoch)
        scalars.setdefault("iter", step)
        runner.visualizer.add_scalars(scalars, step=step, file_path=self.json_log_path)

    def after_run(self, runner: Runner) -> None:
        runner.visualizer.close()
        if self.out_dir is None:
            return
        log_dir = str(runner.log_dir)
        copied = []
        for root, _, files in os.walk(log_dir):
            for name in files:
                if not name.endswith(self.out_suffix):
                    continue
                local = osp.join(root, name)
                target = osp.join(self.out_dir, osp.relpath(local, log_dir))
                os.makedirs(osp.dirname(target), exist_ok=True)
                shutil.copyfile(local, target)
                copied.append(local)
                runner.logger.info(f"{local} was copied to {target}.")
        if not self.keep_local:
            for local in copied:
                os.remove(local)
            runner.logger.info(f"Local logs were removed (keep_local=False); see {self.out_dir}.")
