"""Graceful stop: SIGTERM/SIGINT end training at the next iteration boundary, with a
checkpoint there and the trackers closed; SIGUSR1 under SLURM also requeues the job.

Configured by ``env_cfg=dict(graceful_stop=dict(...))`` (see :class:`GracefulStop`). The
signal handler only records the signal; the train loop asks :meth:`GracefulStop.poll` at
each iteration boundary, and in a distributed run the ranks agree through one small
``all_reduce`` every ``sync_interval`` boundaries, so every rank stops at the same iteration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.runner.runner import Runner

__all__ = ["GracefulStop", "TrainingStopped"]

_OPTIONS = ("enable", "signals", "save_checkpoint", "sync_interval", "requeue_signal", "requeue")


class TrainingStopped(SystemExit):
    """Training was stopped by a signal, after saving a checkpoint and closing the trackers.

    A ``SystemExit`` whose code is ``128 + signal`` (143 for SIGTERM, 130 for SIGINT), as a
    shell reports a process the signal ended: uncaught, the process exits with it.

    Attributes:
        signum: The signal received.
        iteration: The training iteration the run stopped after.
        checkpoint: The checkpoint saved at the stop, or None.
    """

    def __init__(self, signum: int, iteration: int, checkpoint: str | None) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.iteration = iteration
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        where = f"; resume from {self.checkpoint}" if self.checkpoint else ""
        return f"training stopped by {signal.Signals(self.signum).name} at iteration {self.iteration}{where}"


class _StopRequested(Exception):
    """Raised at an iteration boundary to leave the train loop (caught by the Runner)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _signal_number(value: int | str, where: str) -> int:
    try:
        return int(signal.Signals[value] if isinstance(value, str) else signal.Signals(value))
    except (KeyError, ValueError):
        raise ValueError(f"{where}: unknown signal {value!r} (e.g. 'SIGTERM')") from None


def slurm_job_id(environ: dict[str, str] | None = None) -> str | None:
    """The id ``scontrol requeue`` takes for this job: ``<array job>_<task>`` for an array
    task (as Lightning does), else ``SLURM_JOB_ID``; None outside SLURM."""
    environ = os.environ if environ is None else environ
    array_job, task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return environ.get("SLURM_JOB_ID")


class GracefulStop:
    """What a stop signal does (``env_cfg['graceful_stop']``).

    Args:
        enable: Handle the signals (False leaves Python's default behaviour).
        signals: The signals that stop training gracefully.
        save_checkpoint: Save a checkpoint at the stop (through the ``CheckpointHook`` when
            there is one, as ``iter_<n>.pth``; it becomes ``last_checkpoint``).
        sync_interval: In a distributed run, the ranks agree on a stop every this many
            iteration boundaries (one ``all_reduce`` of one number).
        requeue_signal: The signal ``sbatch --signal`` sends before the time limit.
        requeue: Handle ``requeue_signal``: stop as for the other signals, then (rank 0)
            requeue the job with ``scontrol requeue``. ``'auto'``: when the job runs under
            SLURM (``SLURM_JOB_ID`` is set); False leaves the signal alone.
    """

    def __init__(
        self,
        enable: bool = True,
        signals: Sequence[int | str] = ("SIGTERM", "SIGINT"),
        save_checkpoint: bool = True,
        sync_interval: int = 10,
        requeue_signal: int | str = "SIGUSR1",
        requeue: bool | str = "auto",
    ) -> None:
        where = "env_cfg['graceful_stop']"
        if not isinstance(sync_interval, int) or sync_interval < 1:
            raise ValueError(f"{where}: sync_interval must be an int >= 1, got {sync_interval!r}")
        if requeue not in (True, False, "auto"):
            raise ValueError(f"{where}: requeue must be True, False or 'auto', got {requeue!r}")
        self.enable = enable
        self.signals = [_signal_number(s, f"{where}['signals']") for s in signals]
        self.save_checkpoint = save_checkpoint
        self.sync_interval = sync_interval
        self.requeue_signal = _signal_number(requeue_signal, f"{where}['requeue_signal']")
        self.requeue = requeue if requeue != "auto" else slurm_job_id() is not None
        self._received = 0
        self._polls = 0
        self._previous: dict[int, Any] = {}

    @classmethod
    def from_env_cfg(cls, env_cfg: dict) -> GracefulStop:
        """Builds it from ``env_cfg['graceful_stop']`` (all defaults when absent)."""
        options = dict(env_cfg.get("graceful_stop") or {})
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ValueError(
                f"env_cfg['graceful_stop']: unknown option(s) {unknown}; known: {list(_OPTIONS)}"
            )
        return cls(**options)

    @property
    def received(self) -> int:
        """The signal this process received (0 when none)."""
        return self._received

    def _handled_signals(self) -> list[int]:
        handled = list(self.signals)
        if self.requeue and self.requeue_signal not in handled:
            handled.append(self.requeue_signal)
        return handled

    @contextmanager
    def installed(self) -> Generator[GracefulStop, None, None]:
        """Handles the signals inside the block (main thread only), restoring the previous
        handlers after it."""
        active = self.enable and threading.current_thread() is threading.main_thread()
        if active:
            for signum in self._handled_signals():
                previous = signal.signal(signum, self._handle)
                # None: a handler installed outside Python; the default is what we can restore
                self._previous[signum] = signal.SIG_DFL if previous is None else previous
        try:
            yield self
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self._received:  # a second signal: no more waiting, act as if unhandled
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self._received = signum

    def poll(self, distributed: bool) -> int:
        """At an iteration boundary: the signal to stop for, agreed by all ranks (0: go on).

        Args:
            distributed: Agree with the other ranks (every ``sync_interval`` calls).
        """
        if not distributed:
            return self._received
        self._polls += 1
        if self._polls % self.sync_interval:
            return 0
        import torch

        from torchrig.dist import all_reduce

        flag = torch.tensor([self._received], dtype=torch.int64)
        all_reduce(flag, op="max")
        return int(flag.item())

    def check(self, distributed: bool) -> None:
        """Raises ``_StopRequested`` when training is to stop here."""
        signum = self.poll(distributed)
        if signum:
            raise _StopRequested(signum)

    def stop(self, runner: Runner, signum: int) -> TrainingStopped:
        """Saves the checkpoint, requeues under SLURM if asked, closes the trackers; returns
        the exception the Runner raises."""
        name = signal.Signals(signum).name
        runner.logger.warning(
            f"{name} received: stopping after iteration {runner.iter}"
            + (" and saving a checkpoint" if self.save_checkpoint else "")
            + " (send it again to stop at once)"
        )
        path = save_stop_checkpoint(runner) if self.save_checkpoint else None
        if signum == self.requeue_signal and self.requeue and runner.rank == 0:
            requeue_slurm_job(runner.logger)
        runner.visualizer.close(exit_code=128 + signum)
        return TrainingStopped(signum, runner.iter, path)


def save_stop_checkpoint(runner: Runner) -> str | None:
    """Saves a checkpoint at the current boundary; returns its path (None on other ranks).

    The ``CheckpointHook`` saves it when there is one (``save_at_stop``), so it counts as
    the hook's last checkpoint; otherwise ``iter_<n>.pth`` goes to the work directory.
    """
    for hook in runner.hooks:
        save_at_stop = getattr(hook, "save_at_stop", None)
        if callable(save_at_stop):
            return save_at_stop(runner)
    filename = f"iter_{runner.iter}.pth"
    runner.save_checkpoint(
        runner.work_dir, filename, meta=dict(epoch=runner.epoch, iter=runner.iter), by_epoch=False
    )
    return os.path.join(runner.work_dir, filename) if runner.rank == 0 else None


def requeue_slurm_job(logger: Any) -> bool:
    """Runs ``scontrol requeue <job id>``; logs and returns whether it worked."""
    job_id = slurm_job_id()
    if job_id is None:
        logger.warning("requeue asked for, but SLURM_JOB_ID is not set: not under SLURM")
        return False
    command = ["scontrol", "requeue", job_id]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        logger.warning(f"requeueing SLURM job {job_id} failed: {err}")
        return False
    if result.returncode != 0:
        logger.warning(
            f"requeueing SLURM job {job_id} failed ({' '.join(command)} exited with "
            f"{result.returncode}): {result.stderr.strip()}"
        )
        return False
    logger.info(f"requeued SLURM job {job_id}")
    return True
