"""LoggerHook: writes log lines and sends scalars to the visualizer at the right step."""

from __future__ import annotations

import os
import os.path as osp
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.hooks.runtime_info_hook import _is_scalar
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["LoggerHook"]


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
        self.json_log_path: str | None = None

    def before_run(self, runner: Runner) -> None:
        if self.out_dir is not None:
            basename = osp.basename(str(runner.work_dir).rstrip(osp.sep))
            self.out_dir = osp.join(self.out_dir, basename)
            runner.logger.info(f"Text logs will be copied to {self.out_dir} after the run.")
        self.json_log_path = f"{runner.timestamp}.json"

    def after_train_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: dict | None = None,
    ) -> None:
        epoch_len = self._train_epoch_len(runner)
        last_of_epoch = batch_idx + 1 == epoch_len
        if self.every_n_train_iters(runner, self.interval_exp_name) or last_of_epoch:
            runner.logger.info(f"Exp name: {runner.experiment_name}")
        due = self.every_n_inner_iters(batch_idx, self.interval)
        if not (due or (last_of_epoch and (not self.ignore_last or epoch_len <= self.interval))):
            return
        tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, "train")
        runner.logger.info(log_str)
        step = runner.iter + 1
        if "epoch" not in tag or "iter" not in tag:  # (a log processor of one's own)
            tag = dict(tag)
            tag.setdefault("epoch", runner.epoch + 1)
            tag.setdefault("iter", step)
        runner.visualizer.add_scalars(tag, step=step, file_path=self.json_log_path)

    @staticmethod
    def _train_epoch_len(runner: Runner) -> int:
        """``len(runner.train_dataloader)``, -1 without a length."""
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
            runner.logger.info(log_str)

    def after_test_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
    ) -> None:
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, "test")
            runner.logger.info(log_str)

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
        # The tracked runs stay open: a test after training continues them; they finish
        # at visualizer.close() or when the process exits.
        runner.visualizer.pause()
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
