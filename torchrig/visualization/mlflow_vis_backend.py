"""MLflowVisBackend: metrics, params, config and images to an MLflow tracking store."""

from __future__ import annotations

import os
import os.path as osp
import tempfile
import time
from pathlib import Path
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_dict, config_to_text, flatten_dict
from torchrig.visualization._values import encode_png, to_builtin
from torchrig.visualization._writer import report
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["MLflowVisBackend"]

_MAX_PARAM_LEN = 6000
_BATCH = 1000


@VISBACKENDS.register_module()
class MLflowVisBackend(BaseVisBackend):
    """Sends a run to MLflow through ``MlflowClient`` (no global active-run state).

    The default store is a SQLite database, ``sqlite:///<save_dir>/mlflow.db``, with artifacts
    under ``<save_dir>/mlartifacts`` (MLflow's file store is deprecated and now raises).

    Args:
        save_dir: Directory for the default store and artifacts.
        exp_name: The experiment's name (default ``'torchrig'``: MLflow's own ``Default``
            experiment would put artifacts relative to the working directory).
        run_name: The run's name.
        tags: Tags set on the run.
        params: Params logged at start.
        tracking_uri: Another tracking store (``sqlite:///...``, ``http://...``).
        artifact_suffix: Files under the log directory with these endings are uploaded as
            artifacts when the run closes.
        tracked_config_keys: Only these (dotted) config keys become params; all when None.
    """

    def __init__(
        self,
        save_dir: str,
        exp_name: str | None = None,
        run_name: str | None = None,
        tags: dict | None = None,
        params: dict | None = None,
        tracking_uri: str | None = None,
        artifact_suffix: tuple[str, ...] | str = (".json", ".log", ".py", "yaml"),
        tracked_config_keys: list[str] | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._exp_name = exp_name or "torchrig"
        self._run_name = run_name
        self._tags = dict(tags or {})
        self._params = dict(params or {})
        self._tracking_uri = tracking_uri
        self._artifact_suffix = (
            (artifact_suffix,) if isinstance(artifact_suffix, str) else tuple(artifact_suffix)
        )
        self._tracked_config_keys = tracked_config_keys
        self._mlflow: Any = None
        self._client: Any = None
        self._run_id: str | None = None
        self._resume: dict | None = None
        self._metrics: list[Any] = []
        self._step = 0

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ``mlflow`` module (as MMEngine); see :attr:`client` and :attr:`run_id`."""
        return self._mlflow

    @property
    @force_init_env
    def client(self) -> Any:
        """The ``MlflowClient`` this backend writes with."""
        return self._client

    @property
    def run_id(self) -> str | None:
        """The MLflow run id (None before first use)."""
        return self._run_id

    def _init_env(self) -> None:
        self._mlflow = import_tracker("mlflow", "mlflow", "MLflowVisBackend")
        from mlflow.tracking import MlflowClient

        save_dir = osp.abspath(self._save_dir or ".")
        os.makedirs(save_dir, exist_ok=True)
        self._save_dir = save_dir
        resume = self._resume or {}
        uri = resume.get("tracking_uri") or self._tracking_uri
        uri = uri or f"sqlite:///{save_dir}/mlflow.db"
        self._tracking_uri = uri
        self._client = MlflowClient(tracking_uri=uri)
        if resume.get("run_id"):
            self._run_id = resume["run_id"]
            self._step = int(resume.get("step", 0))
            self._client.update_run(self._run_id, status="RUNNING")
            return
        experiment = self._client.get_experiment_by_name(self._exp_name)
        if experiment is None:
            location = Path(save_dir, "mlartifacts").as_uri()
            experiment_id = self._client.create_experiment(self._exp_name, location)
        else:
            experiment_id = experiment.experiment_id
        run = self._client.create_run(experiment_id, tags=self._tags, run_name=self._run_name)
        self._run_id = run.info.run_id
        if self._params:
            self._log_params(self._params)

    def _log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        existing = self._client.get_run(self._run_id).data.params
        items = [
            Param(key[:250], str(value)[:_MAX_PARAM_LEN])
            for key, value in params.items()
            if key[:250] not in existing
        ]
        for start in range(0, len(items), 100):
            self._client.log_batch(self._run_id, params=items[start : start + 100])

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Log the config's (tracked) keys as params, and the config and environment as files."""
        flat = flatten_dict(config_to_dict(config))
        if self._tracked_config_keys is not None:
            keys = self._tracked_config_keys
            flat = {
                k: v for k, v in flat.items() if any(k == t or k.startswith(t + ".") for t in keys)
            }
        self._log_params(flat)
        self._client.log_text(self._run_id, config_to_text(config), "config.py")
        env = kwargs.get("env")
        if env:
            self._client.log_dict(self._run_id, env, "environment.json")
            if env.get("git_commit"):
                self._client.set_tag(self._run_id, "mlflow.source.git.commit", env["git_commit"])

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Upload ``image`` as ``images/<name>_<step>.png``."""
        self._send_metrics()
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, f"{name.replace('/', '_')}_{step}.png")
            with open(path, "wb") as f:
                f.write(encode_png(image))
            self._client.log_artifact(self._run_id, path, "images")

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Log one metric at ``step``."""
        self.add_scalars({name: value}, step)

    @force_init_env
    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Log every numeric value as a metric at ``step`` (sent in batches)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in scalar_dict.items():
            value = to_builtin(value)
            if isinstance(value, (int, float)):
                self._metrics.append(Metric(key, float(value), now, int(step)))
        self._step = max(self._step, int(step))
        if len(self._metrics) >= _BATCH:
            self._send_metrics()

    def _send_metrics(self) -> None:
        while self._metrics:
            batch, self._metrics = self._metrics[:_BATCH], self._metrics[_BATCH:]
            self._client.log_batch(self._run_id, metrics=batch)

    def after_batch(self) -> None:
        """Send the metrics gathered from one batch of the writer's queue."""
        if self._client is not None:
            self._send_metrics()

    def flush(self) -> None:
        """Send pending metrics (the store commits each batch)."""
        if self._client is not None:
            self._send_metrics()

    def close(self, exit_code: int = 0) -> None:
        """Upload the log directory's artifacts and mark the run finished (or failed)."""
        if self._client is None:
            return
        self._send_metrics()
        log_dir = osp.dirname(self._save_dir)
        for root, dirs, files in os.walk(log_dir):
            dirs[:] = [d for d in dirs if d not in ("mlartifacts", "wandb", "__pycache__")]
            for file in files:
                if file.endswith(self._artifact_suffix) and not file.startswith("torchrig-wandb"):
                    relative = osp.relpath(root, log_dir)
                    self._client.log_artifact(
                        self._run_id, osp.join(root, file), None if relative == "." else relative
                    )
        self._client.set_terminated(self._run_id, "FINISHED" if exit_code == 0 else "FAILED")

    def state_dict(self) -> dict:
        """The run id and store to continue, and the last step logged."""
        if self._run_id is None:
            return dict(self._resume or {})
        return {"run_id": self._run_id, "tracking_uri": self._tracking_uri, "step": self._step}

    def load_state_dict(self, state: dict) -> None:
        """Continue the MLflow run of ``state`` on first use."""
        if self._env_initialized:
            report("MLflowVisBackend.load_state_dict called after the run started; ignored")
            return
        self._resume = dict(state) if state else None
