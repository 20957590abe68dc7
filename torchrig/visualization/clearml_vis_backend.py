"""ClearMLVisBackend: scalars, images and the config to a ClearML task."""

from __future__ import annotations

import os.path as osp
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._artifacts import artifact_files, suffix_tuple
from torchrig.visualization._env import config_to_dict
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["ClearMLVisBackend"]


@VISBACKENDS.register_module()
class ClearMLVisBackend(BaseVisBackend):
    """Reports to a ClearML task (``clearml.Task``), as MMEngine's backend of the same name.

    Each scalar is a ClearML metric whose title and series are its key, at iteration ``step``
    (the global training iteration). The config is connected as the task's ``config``
    configuration and the environment as ``environment``. Without a ClearML server, set
    ``CLEARML_OFFLINE_MODE=1``: the task is stored locally for ``clearml-task --import-offline-session``.

    Args:
        save_dir: The backend's directory; its parent (the run's log directory) is searched for
            artifacts when the task closes.
        init_kwargs: Keyword arguments of ``clearml.Task.init`` (``project_name``,
            ``task_name``, ...).
        artifact_suffix: Files of the log directory with these endings are uploaded as
            artifacts when the task closes.
    """

    def __init__(
        self,
        save_dir: str | None = None,
        init_kwargs: dict | None = None,
        artifact_suffix: tuple[str, ...] | str = (".py", ".pth"),
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        self._artifact_suffix = suffix_tuple(artifact_suffix)
        self._resume: dict | None = None
        self._clearml: Any = None
        self._task: Any = None
        self._logger: Any = None

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ClearML ``Logger`` of the task (as MMEngine)."""
        return self._logger

    @property
    @force_init_env
    def task(self) -> Any:
        """The ``clearml.Task``."""
        return self._task

    def _init_env(self) -> None:
        self._clearml = import_tracker("clearml", "clearml", "ClearMLVisBackend")
        kwargs = {"project_name": "torchrig", "task_name": "train", **self._init_kwargs}
        if self._resume and self._resume.get("task_id"):
            kwargs["continue_last_task"] = self._resume["task_id"]
        self._task = self._clearml.Task.init(**kwargs)
        self._logger = self._task.get_logger()

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Connect the config (and ``kwargs['env']``) as the task's configurations."""
        self._task.connect_configuration(config_to_dict(config), name="config")
        env = kwargs.get("env")
        if env:
            self._task.connect_configuration(dict(env), name="environment")

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Report ``image`` (HWC uint8 RGB) at iteration ``step``."""
        self._logger.report_image(title=name, series=name, iteration=step, image=to_image(image))

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Report one number at iteration ``step`` (other values are skipped)."""
        value = to_builtin(value)
        if isinstance(value, (int, float)):
            self._logger.report_scalar(title=name, series=name, value=value, iteration=step)

    def flush(self) -> None:
        """Hand what was reported to ClearML's uploader."""
        if self._task is not None:
            self._task.flush(wait_for_uploads=False)

    def close(self, exit_code: int = 0) -> None:
        """Upload the log directory's artifacts and close the task."""
        if self._task is None:
            return
        if self._save_dir:
            log_dir = osp.dirname(osp.abspath(self._save_dir))
            for path, folder in artifact_files(log_dir, self._artifact_suffix):
                name = osp.join(folder, osp.basename(path)) if folder else osp.basename(path)
                self._task.upload_artifact(name, artifact_object=path)
        if exit_code != 0:
            self._task.mark_failed(status_reason=f"exit code {exit_code}")
        self._task.close()
        self._task = None

    def state_dict(self) -> dict:
        """The task id to continue."""
        if self._task is None:
            return dict(self._resume or {})
        return {"task_id": self._task.id}

    def load_state_dict(self, state: dict) -> None:
        """Continue the ClearML task of ``state`` on first use."""
        self._resume = dict(state) if state else None
