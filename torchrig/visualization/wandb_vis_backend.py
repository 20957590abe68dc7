"""WandbVisBackend: metrics, config, images and checkpoints to Weights & Biases."""

from __future__ import annotations

import glob
import os
import os.path as osp
import re
import time
from collections.abc import Sequence
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_dict
from torchrig.visualization._format_server import MIN_ROWS, SERVER, format_wandb_rows
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization._wandb_store import (
    Journal,
    history_steps,
    read_journal,
    wait_for_exit_record,
    wait_until_settled,
)
from torchrig.visualization._wandb_wire import RowEncoder, proto_request
from torchrig.visualization._writer import register_exit_close, report
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

_NUMBERS = frozenset((int, float))


def _numbers_only(row: dict) -> bool:
    """Whether every value is an ``int`` or a ``float`` (not a subclass such as ``bool``)."""
    return _NUMBERS.issuperset(map(type, row.values()))


__all__ = ["WandbVisBackend"]

# Metric names whose best value is the largest / smallest (as MMEngine's CheckpointHook infers).
_GREATER = re.compile(r"acc|top|auc|precision|recall|f1|map|miou|mdice|ar@|psnr|ssim", re.I)
_LESS = re.compile(r"loss|error|err\b|mse|mae|rmse|fid", re.I)
_FAST_ROWS = 256


def _summary_rule(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    if key in ("step", "iter", "epoch", "lr", "time", "data_time") or name in ("lr", "time"):
        return None
    if _LESS.search(name):
        return "min,last"
    if _GREATER.search(name):
        return "max,last"
    return None


@VISBACKENDS.register_module()
class WandbVisBackend(BaseVisBackend):
    """Sends a run to Weights & Biases; W&B's step is the global training iteration.

    Values logged at the same step (train losses, then the validation metrics computed at that
    iteration) share one W&B row: a row stays open until a larger step arrives, so nothing is
    dropped as "step must only increase". A value for a step older than the open row cannot
    be placed by W&B; scalars are then dropped with one warning (the local backend keeps
    them) and images go to the open row.

    Durability: every history row is also journaled under ``save_dir``; :meth:`flush` (called
    before each checkpoint) fsyncs the journal, and a process resumed with
    :meth:`load_state_dict` re-sends, to the same run id, each row logged before the checkpoint
    that W&B's run files do not hold (W&B's writer loses its buffer when a process is killed).

    Console and log file: W&B's console capture (which forwards every line printed to stdout
    and stderr to its service, costing about as much per log line as a small model's training
    step) is off unless ``init_kwargs`` ask for it (``settings=dict(console="auto")`` or a
    ``wandb.Settings`` with ``console`` set, or ``WANDB_CONSOLE``). Instead, the run's log
    files (every ``*.log`` in the parent of ``save_dir``: the Runner's
    ``work_dir/<timestamp>/<timestamp>.log``) are added to the run's files and uploaded when it
    ends. Trade-off: W&B's *Logs* tab stays empty and output that bypasses the logger (bare
    ``print``, tracebacks) is not in the run.

    Args:
        save_dir: Directory for W&B's files (``init_kwargs['dir']`` defaults to it).
        init_kwargs: Passed to ``wandb.init`` (``project``, ``entity``, ``name``, ``mode``...);
            ``settings.console`` defaults to ``"off"`` (see above).
        define_metric_cfg: ``{metric: summary}`` (e.g. ``{'accuracy': 'max'}``) or a list of
            ``wandb.define_metric`` keyword dicts.
        commit: Kept for MMEngine configs; rows are committed when a larger step arrives (or
            on close), which is what keeps train and validation values of one step together.
        log_code_name: When set, the run's code is saved under this name.
        watch_kwargs: When set, :meth:`add_graph` calls ``wandb.watch(model, **watch_kwargs)``.
        log_checkpoint: Upload checkpoints given to :meth:`log_checkpoint` as artifacts.
        auto_summary: Define the summary (best and last) of loss- and metric-like keys that
            ``define_metric_cfg`` does not name: ``min`` for losses, ``max`` for accuracies.
        fast_history: Send queued scalar rows in batches straight to wandb-core, encoded as
            the messages ``wandb.log`` would send (checked against protobuf at start; falls
            back to protobuf's API, then to ``wandb.log``, if W&B's internals differ).
        save_log_files: Add the ``*.log`` files next to ``save_dir`` to the run's files.
    """

    def __init__(
        self,
        save_dir: str,
        init_kwargs: dict | None = None,
        define_metric_cfg: dict | list | None = None,
        commit: bool | None = True,
        log_code_name: str | None = None,
        watch_kwargs: dict | None = None,
        log_checkpoint: bool = False,
        auto_summary: bool = True,
        fast_history: bool = True,
        save_log_files: bool = True,
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        self._define_metric_cfg = define_metric_cfg
        self._commit = commit
        self._log_code_name = log_code_name
        self._watch_kwargs = watch_kwargs
        self._log_checkpoint = log_checkpoint
        self._auto_summary = auto_summary
        self._fast = fast_history
        self._run: Any = None
        self._wandb: Any = None
        self._step = 0
        self._defined: set[str] = set()
        self._pending: list[tuple[int, dict, bool]] = []  # (step, row, journal it)
        self._journal: Journal | None = None
        self._resume: dict | None = None
        self._warned_old_step = False
        self._encoder: RowEncoder | None = None
        self._save_log_files = save_log_files
        self._saved_logs: set[str] = set()

    # -- set-up ----------------------------------------------------------------------------
    @property
    @force_init_env
    def experiment(self) -> Any:
        """The wandb run (``wandb.sdk.wandb_run.Run``)."""
        return self._run

    def _init_env(self) -> None:
        wandb = import_tracker("wandb", "wandb", "WandbVisBackend")
        self._wandb = wandb
        save_dir = osp.abspath(self._save_dir or ".")
        os.makedirs(save_dir, exist_ok=True)
        kwargs = dict(self._init_kwargs)
        kwargs.setdefault("dir", save_dir)
        kwargs.setdefault("reinit", "create_new")
        replay: list[tuple[int, dict]] = []
        if self._resume and self._resume.get("run_id"):
            kwargs.setdefault("id", self._resume["run_id"])
            kwargs.setdefault("resume", "allow")
            replay = self._rows_to_resend(self._resume)
            self._step = int(self._resume.get("step", 0))
            _avoid_same_second(osp.join(kwargs["dir"], "wandb"), kwargs["id"])
        _console_off_unless_asked(kwargs, wandb)
        self._run = wandb.init(**kwargs)
        register_exit_close()
        self._defined = set()
        self._pending = []
        self._encoder = None
        if self._fast:
            try:
                self._encoder = RowEncoder(self._run._interface)
            except Exception:  # noqa: BLE001 - another W&B version: protobuf's API instead
                self._encoder = None
        self._save_logs()
        self._journal = Journal(osp.join(save_dir, f"torchrig-wandb-{self._run.id}.jsonl"))
        self._define_metrics()
        for step, row in replay:
            self._send_row(step, row, journal=False)
        self._send_pending()

    def _define_metrics(self) -> None:
        cfg = self._define_metric_cfg
        if isinstance(cfg, dict):
            for metric, summary in cfg.items():
                self._run.define_metric(metric, summary=summary)
                self._defined.add(metric)
        elif isinstance(cfg, list):
            for item in cfg:
                self._run.define_metric(**item)
                self._defined.add(item.get("name", ""))

    def _rows_to_resend(self, state: dict) -> list[tuple[int, dict]]:
        segments = state.get("segments", [])
        run_files = [seg["run_file"] for seg in segments if seg.get("run_file")]
        # A killed run's W&B service may still be appending its last rows: read them after it.
        wait_until_settled(run_files)
        present = history_steps(run_files)
        rows = []
        for seg in segments:
            start, entries = int(seg.get("start", 0)), int(seg.get("entries", 0))
            for step, row in read_journal(seg["journal"], start, entries):
                if step not in present:
                    rows.append((step, row))
        return rows

    # -- data ------------------------------------------------------------------------------
    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Put the full config (and ``kwargs['env']``, the environment) in ``run.config``."""
        values = config_to_dict(config)
        env = kwargs.get("env")
        if env and "environment" not in values:
            values["environment"] = env
        self._run.config.update(values, allow_val_change=True)
        if self._log_code_name is not None:
            self._run.log_code(name=self._log_code_name)

    @force_init_env
    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
        """Watch the model's gradients and parameters when ``watch_kwargs`` was given."""
        if self._watch_kwargs is not None:
            self._run.watch(model, **self._watch_kwargs)

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Log ``image`` (HWC uint8 RGB) as a ``wandb.Image`` at ``step`` (or the open row)."""
        self._send_pending()
        step = max(int(step), self._step)
        self._run.log({name: self._wandb.Image(to_image(image))}, step=step)
        self._step = step

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Log one scalar at ``step``."""
        self.add_scalars({name: value}, step=step)

    @force_init_env
    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Log scalars at ``step``, W&B's own step (the global training iteration).

        Args:
            scalar_dict: Keys and values.
            step: The global training iteration.
            file_path: Unused (local backend only).
            **kwargs: Unused.
        """
        self._add_scalars(scalar_dict, step)

    def _add_scalars(self, scalar_dict: dict, step: int = 0, *_: Any, **__: Any) -> None:
        step = int(step)
        if step < self._step:
            if not self._warned_old_step:
                self._warned_old_step = True
                report(
                    f"WandbVisBackend: values for step {step} arrived after step {self._step}; "
                    "W&B cannot place them, they are kept only by the local backend"
                )
            return
        if _numbers_only(scalar_dict):  # what the LoggerHook sends: a plain copy
            self._send_row(step, dict(scalar_dict), journal=True, numbers=True)
        else:
            row = {key: to_builtin(value) for key, value in scalar_dict.items()}
            self._send_row(step, row, journal=True)

    def _send_row(self, step: int, row: dict, journal: bool, numbers: bool | None = None) -> None:
        """Send ``row`` at ``step`` (``journal``: record it; rows re-sent on resume are not).
        Rows of numbers wait in ``_pending`` and are journaled and sent in batches."""
        if (self._auto_summary or self._defined) and not self._defined.issuperset(row):
            self._define_new(row)
        self._step = max(self._step, step)
        if self._fast and (numbers or (numbers is None and _numbers_only(row))):
            self._pending.append((step, row, journal))
            if len(self._pending) >= _FAST_ROWS:
                self._send_pending()
        else:
            self._send_pending()
            if journal and self._journal is not None:
                self._journal.append(step, row)
            self._run.log(row, step=step)

    def _define_new(self, row: dict) -> None:
        for key in row:
            if key in self._defined:
                continue
            self._defined.add(key)
            rule = _summary_rule(key) if self._auto_summary else None
            if rule is not None:
                self._send_pending()
                self._run.define_metric(key, summary=rule)

    def _send_pending(self) -> None:
        """Journal and send the rows waiting in ``_pending``, in one socket write."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        journal, journaled = self._journal, False
        if self._fast:
            try:
                if self._encoder is not None:
                    frames, text, count = self._encode(rows)
                    if journal is not None:
                        journal.extend(text, count)
                    journaled = True
                    self._encoder.send(frames)
                else:
                    self._journal_rows(rows)
                    journaled = True
                    _publish_rows(self._run, [(step, row) for step, row, _ in rows])
                return
            except Exception as err:  # noqa: BLE001 - W&B internals moved: use wandb.log
                self._fast = False
                report(f"WandbVisBackend: batched sending unavailable ({err!r}); using wandb.log")
        if not journaled:
            self._journal_rows(rows)
        for step, row, _ in rows:
            self._run.log(row, step=step)

    def _encode(self, rows: list[tuple[int, dict, bool]]) -> tuple[bytes, str, int]:
        """The frames of ``rows`` and the journal lines of those to journal (text, count);
        a large batch is encoded by the format server's process."""
        now = time.time()
        if len(rows) >= MIN_ROWS:
            done = SERVER.call("wandb", self._encoder.constants(), rows, now)
            if done is not None:
                return done
        return format_wandb_rows(self._encoder, rows, now)

    def _journal_rows(self, rows: list[tuple[int, dict, bool]]) -> None:
        if self._journal is not None:
            for step, row, journal in rows:
                if journal:
                    self._journal.append(step, row)

    def after_batch(self) -> None:
        """Send the rows gathered from one batch of the writer's queue."""
        self._send_pending()

    # -- checkpoints, durability, end --------------------------------------------------------
    @force_init_env
    def log_checkpoint(
        self, path: str, aliases: Sequence[str] = ("latest",), metadata: dict | None = None
    ) -> None:
        """Upload a checkpoint as a ``model`` artifact (staged locally when offline).

        Does nothing unless the backend was built with ``log_checkpoint=True``.

        Args:
            path: The checkpoint file.
            aliases: Artifact aliases, e.g. ``('latest',)`` or ``('latest', 'best')``.
            metadata: Stored with the artifact (e.g. the step and the monitored metric).
        """
        if not self._log_checkpoint:
            return
        self._send_pending()
        artifact = self._wandb.Artifact(
            f"model-{self._run.id}", type="model", metadata=metadata or {}
        )
        artifact.add_file(path, name=osp.basename(path))
        self._run.log_artifact(artifact, aliases=list(aliases))

    def flush(self) -> None:
        """Hand queued rows to W&B and fsync the journal (a checkpoint is durable)."""
        if self._run is None:
            return
        self._send_pending()
        if self._journal is not None:
            self._journal.sync()

    def close(self, exit_code: int = 0) -> None:
        """Send what is left and finish the run with ``exit_code``."""
        if self._run is None:
            return
        self.flush()
        if self._journal is not None:
            self._journal.close()
        self._save_logs()
        run_file = _run_file(self._run)
        run_file = run_file if run_file and osp.exists(run_file) else ""
        self._run.finish(exit_code=exit_code)
        if run_file and not wait_for_exit_record(run_file):
            report(f"WandbVisBackend: W&B did not finish writing {run_file} within 30 s")

    def _save_logs(self) -> None:
        """Add the run's log files (``*.log`` next to ``save_dir``) to the W&B run's files."""
        if not self._save_log_files or self._save_dir is None:
            return
        parent = osp.dirname(osp.abspath(self._save_dir))
        for path in sorted(glob.glob(osp.join(parent, "*.log"))):
            if path in self._saved_logs or not osp.isfile(path):
                continue
            self._saved_logs.add(path)
            try:
                self._run.save(path, base_path=parent, policy="end")
            except Exception as err:  # noqa: BLE001 - the log is a convenience, not the data
                report(f"WandbVisBackend: could not add {path} to the run's files: {err!r}")

    def state_dict(self) -> dict:
        """The run id, the last step and the journals to re-send from after a crash."""
        if self._run is None:
            return dict(self._resume or {})
        segments = list((self._resume or {}).get("segments", []))
        segments.append(
            {
                "journal": self._journal.path if self._journal else "",
                "start": self._journal.start if self._journal else 0,
                "entries": self._journal.entries if self._journal else 0,
                "run_file": _run_file(self._run),
            }
        )
        return {
            "run_id": self._run.id,
            "project": self._run.project,
            "step": self._step,
            "segments": segments,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue the W&B run of ``state`` (same id, ``resume='allow'``) on first use."""
        if self._env_initialized:
            report("WandbVisBackend.load_state_dict called after the run started; ignored")
            return
        self._resume = dict(state) if state else None


def _console_off_unless_asked(kwargs: dict, wandb: Any) -> None:
    """Turn W&B's console capture off unless ``init_kwargs`` (or ``WANDB_CONSOLE``) set it."""
    if os.environ.get("WANDB_CONSOLE"):
        return
    settings = kwargs.get("settings")
    if settings is None:
        kwargs["settings"] = wandb.Settings(console="off")
    elif isinstance(settings, dict):
        if "console" not in settings:
            kwargs["settings"] = {**settings, "console": "off"}
    elif "console" not in getattr(settings, "model_fields_set", {"console"}):
        kwargs["settings"] = settings.model_copy(update={"console": "off"})


def _run_file(run: Any) -> str:
    path = getattr(getattr(run, "settings", None), "sync_file", None)
    if path:
        return osp.abspath(path)
    found = glob.glob(osp.join(osp.dirname(run.dir), f"run-{run.id}.wandb"))
    return found[0] if found else ""


def _avoid_same_second(wandb_dir: str, run_id: str) -> None:
    """W&B names run directories by the second; a resumed run started in the same second as
    the one it continues would reuse (and truncate) that run's file."""
    for _ in range(3):
        stamps = {
            time.strftime("%Y%m%d_%H%M%S", f(time.time())) for f in (time.localtime, time.gmtime)
        }
        if not any(glob.glob(osp.join(wandb_dir, f"*-{stamp}-{run_id}")) for stamp in stamps):
            return
        time.sleep(1.05 - time.time() % 1.0)


def _publish_rows(run: Any, rows: list[tuple[int, dict]]) -> None:
    """Publish history rows to wandb-core with protobuf's API in one hand-over."""
    interface = run._interface
    now = time.time()
    requests = [proto_request(interface, step, row, now) for step, row in rows]

    async def publish_all() -> None:
        for request in requests:
            await interface._client.publish(request)

    interface._asyncer.run(publish_all)
