"""WandbVisBackend: metrics, config, images and checkpoints to Weights & Biases."""

from __future__ import annotations

import glob
import os
import os.path as osp
import re
import time
import weakref
from collections.abc import Sequence
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_dict
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization._wandb_store import Journal, rows_to_resend
from torchrig.visualization._writer import register_exit_close, report
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["WandbVisBackend"]

# Metric names whose best value is the largest / smallest (as MMEngine's CheckpointHook infers).
_GREATER = re.compile(r"acc|top|auc|precision|recall|f1|map|miou|mdice|ar@|psnr|ssim", re.I)
_LESS = re.compile(r"loss|error|err\b|mse|mae|rmse|fid", re.I)
# The field every torchrig row carries, and W&B's x-axis for every metric (``define_metric``).
STEP_METRIC = "iter"
# Runs this process's backends opened (a run the user opened is joined, never finished).
_OPENED: weakref.WeakSet[Any] = weakref.WeakSet()


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
    """Sends a run to Weights & Biases through its public API (``wandb.init``, ``Run.log``...).

    **The run.** If a W&B run is active when the backend starts (``wandb.run``: the user's own
    ``wandb.init()``, a notebook, ``wandb.agent(sweep_id, function=...)``), torchrig logs into
    it (the config is added to ``run.config``) and leaves finishing it to its owner. Otherwise it
    creates the run with ``wandb.init(**init_kwargs)`` as the global run, so ``wandb.log``,
    ``wandb.summary`` and ``wandb.config`` in user code land in it, and finishes it at
    :meth:`close` (the end of the process, or ``visualizer.close()``).

    **Steps.** Every row carries the global training iteration as its ``iter`` field, which
    is every metric's x-axis (``define_metric('*', step_metric='iter')``); rows are logged
    without ``step=``, so W&B's own ``_step`` counts rows. A user's ``wandb.log(...)`` lands
    at the iteration of torchrig's last row (W&B fills in its ``iter``: log after the
    LoggerHook, e.g. from a hook with ``priority='LOW'``, to land at the current one), and
    can never make W&B drop torchrig's rows, as a ``step=`` behind W&B's own would.

    Rows are logged on the thread that logs (``threaded = False``): ``Run.log`` only hands them
    to W&B's service process, which writes and uploads in the background, and this keeps them
    in order with the user's own ``wandb.log`` calls.

    **Console and log file.** W&B's console capture is left as W&B sets it (on: the run's
    *Logs* tab shows the training output); ``init_kwargs=dict(settings=dict(console='off'))``
    turns it off. The run's log files (``*.log`` next to ``save_dir``: the Runner's
    ``work_dir/<timestamp>/<timestamp>.log``) are saved with ``policy='live'``.

    **Durability.** Every row is also journaled under ``save_dir``; :meth:`flush` (before each
    checkpoint) fsyncs the journal, and a process resumed with :meth:`load_state_dict`
    re-sends, to the same run id, each row logged before the checkpoint that W&B did not keep
    (W&B's service loses its buffer when a process is killed; see ``_wandb_store``).

    Args:
        save_dir: Directory for W&B's files (``init_kwargs['dir']`` defaults to it).
        init_kwargs: Passed to ``wandb.init`` (``project``, ``entity``, ``name``, ``mode``,
            ``settings``...).
        define_metric_cfg: ``{metric: summary}`` (e.g. ``{'accuracy': 'max'}``) or a list of
            ``Run.define_metric`` keyword dicts.
        commit: Kept for MMEngine configs (W&B commits a row when the next step arrives).
        log_code_name: When set, the run's code is saved under this name.
        watch_kwargs: When set, :meth:`add_graph` calls ``run.watch(model, **watch_kwargs)``.
        log_checkpoint: Upload checkpoints given to :meth:`log_checkpoint` as artifacts.
        auto_summary: Summarise loss-like keys by their ``min`` and metric-like keys by their
            ``max`` (keys ``define_metric_cfg`` does not name).
        save_log_files: Save the ``*.log`` files next to ``save_dir`` live in the run's files.
        log_dataset: Log each local ``data_root`` the config's dataloaders name as a
            ``dataset`` artifact (a ``file://`` reference, nothing copied) used by the run, for
            W&B's lineage graph (data -> run -> model).
    """

    threaded = False

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
        save_log_files: bool = True,
        log_dataset: bool = False,
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        self._define_metric_cfg = define_metric_cfg
        self._commit = commit
        self._log_code_name = log_code_name
        self._watch_kwargs = watch_kwargs
        self._log_checkpoint = log_checkpoint
        self._auto_summary = auto_summary
        self._save_log_files = save_log_files
        self._log_dataset = log_dataset
        self._run: Any = None
        self._wandb: Any = None
        self._owns_run = False
        self._step = 0
        self._defined: set[str] = set()
        self._journal: Journal | None = None
        self._resume: dict | None = None
        self._segments: list[dict] = []  # journals of earlier processes of this run
        self._saved_logs: set[str] = set()

    # -- set-up ----------------------------------------------------------------------------
    @property
    @force_init_env
    def experiment(self) -> Any:
        """The wandb run (``wandb.Run``)."""
        return self._run

    def _init_env(self) -> None:
        wandb = import_tracker("wandb", "wandb", "WandbVisBackend")
        self._wandb = wandb
        save_dir = osp.abspath(self._save_dir or ".")
        os.makedirs(save_dir, exist_ok=True)
        resume = self._resume or {}
        if self._run is not None and wandb.run is self._run:
            pass  # the visualizer was paused (train, then test): the same run goes on
        elif wandb.run is not None and wandb.run not in _OPENED:
            self._run, self._owns_run = wandb.run, False  # the user's run
        else:
            kwargs = dict(self._init_kwargs)
            kwargs.setdefault("dir", save_dir)
            if wandb.run is not None:  # another torchrig backend's: this one gets its own
                kwargs.setdefault("reinit", "create_new")
            if resume.get("run_id"):
                kwargs.setdefault("id", resume["run_id"])
                kwargs.setdefault("resume", "allow")
                _avoid_same_second(osp.join(kwargs["dir"], "wandb"), kwargs["id"])
            self._run, self._owns_run = wandb.init(**kwargs), True
            _OPENED.add(self._run)
            register_exit_close()
        if self._journal is None or self._journal.closed:
            self._journal = Journal(osp.join(save_dir, f"torchrig-wandb-{self._run.id}.jsonl"))
        self._define_metrics()
        self._save_logs()
        if resume.get("run_id") == self._run.id:
            self._step = max(self._step, int(resume.get("step", 0)))
            for step, row in rows_to_resend(resume, self._run, STEP_METRIC):
                self._log(row, step)
        self._resume = None

    def _define_metrics(self) -> None:
        run = self._run
        run.define_metric(STEP_METRIC)
        run.define_metric("*", step_metric=STEP_METRIC)
        self._defined = {STEP_METRIC}
        cfg = self._define_metric_cfg
        if isinstance(cfg, dict):
            for metric, summary in cfg.items():
                run.define_metric(metric, summary=summary, step_metric=STEP_METRIC)
                self._defined.add(metric)
        elif isinstance(cfg, list):
            for item in cfg:
                run.define_metric(**{"step_metric": STEP_METRIC, **item})
                self._defined.add(item.get("name", ""))

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
        if self._log_dataset:
            from torchrig.visualization._wandb_artifacts import use_dataset_artifacts

            use_dataset_artifacts(self._run, self._wandb, values)

    @force_init_env
    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
        """Watch the model's gradients and parameters when ``watch_kwargs`` was given."""
        if self._watch_kwargs is not None:
            self._run.watch(model, **self._watch_kwargs)

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Log ``image`` (HWC uint8 RGB) as a ``wandb.Image`` at ``step``."""
        self._log({name: self._wandb.Image(to_image(image)), STEP_METRIC: int(step)}, int(step))

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
        """Log scalars at ``step`` (the global training iteration), journaled for resume.

        Args:
            scalar_dict: Keys and values.
            step: The global training iteration (also the row's ``iter`` unless it has one).
            file_path: Unused (local backend only).
            **kwargs: Unused.
        """
        step = int(step)
        row = {key: to_builtin(value) for key, value in scalar_dict.items()}
        row.setdefault(STEP_METRIC, step)
        if self._auto_summary and not self._defined.issuperset(row):
            self._define_summaries(row)
        if self._journal is not None:
            self._journal.append(step, row)
        self._log(row, step)

    @force_init_env
    def log_media(self, values: dict, step: int) -> None:
        """Log W&B objects (``wandb.Table``, ``wandb.Image``...) at ``step`` (the global
        training iteration), in the row of that iteration's scalars.

        Args:
            values: Keys to W&B data types.
            step: The global training iteration.
        """
        self._log({**values, STEP_METRIC: int(step)}, int(step))

    def _log(self, row: dict, step: int) -> None:
        """``Run.log`` without a W&B step: W&B gives the row the next step, and its ``iter``
        (every metric's x-axis) places it. Passing ``step=`` would fight the user's own
        ``wandb.log`` calls, and W&B drops a row whose step is behind its own."""
        self._run.log(row)
        self._step = max(self._step, step)

    def _define_summaries(self, row: dict) -> None:
        for key in row:
            if key in self._defined:
                continue
            self._defined.add(key)
            rule = _summary_rule(key)
            if rule is not None:
                self._run.define_metric(key, summary=rule, step_metric=STEP_METRIC)

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
        artifact = self._wandb.Artifact(
            f"model-{self._run.id}", type="model", metadata=metadata or {}
        )
        artifact.add_file(path, name=osp.basename(path))
        self._run.log_artifact(artifact, aliases=list(aliases))

    def flush(self) -> None:
        """Fsync the journal (what a resumed process re-sends from); W&B's service process
        writes and uploads the rows on its own."""
        if self._journal is not None:
            self._journal.sync()

    def close(self, exit_code: int = 0) -> None:
        """Finish the run with ``exit_code`` if this backend created it (a run the user
        created stays open: finishing it is its owner's call)."""
        if self._run is None:
            return
        if self._journal is not None:
            self._journal.close()
        self._save_logs()
        if self._owns_run:
            self._run.finish(exit_code=exit_code)

    def _save_logs(self) -> None:
        """Save the run's log files (``*.log`` next to ``save_dir``) live in the run's files."""
        if not self._save_log_files or self._save_dir is None:
            return
        parent = osp.dirname(osp.abspath(self._save_dir))
        for path in sorted(glob.glob(osp.join(parent, "*.log"))):
            if path in self._saved_logs or not osp.isfile(path):
                continue
            self._saved_logs.add(path)
            try:
                self._run.save(path, base_path=parent, policy="live")
            except Exception as err:  # noqa: BLE001 - the log is a convenience, not the data
                report(f"WandbVisBackend: could not add {path} to the run's files: {err!r}")

    def state_dict(self) -> dict:
        """The run id, the last step and the journals to re-send from after a crash."""
        if self._run is None:
            return dict(self._resume or {})
        journal = self._journal
        segments = list(self._segments)
        if journal is not None:
            segments.append(
                {
                    "journal": journal.path,
                    "start": journal.start,
                    "entries": journal.entries,
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
        self._segments = list((state or {}).get("segments", []))


def _run_file(run: Any) -> str:
    """The run's ``run-<id>.wandb`` (where W&B's service writes the run; read on resume)."""
    found = glob.glob(osp.join(osp.dirname(run.dir), f"run-{run.id}.wandb"))
    return osp.abspath(found[0]) if found else ""


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
