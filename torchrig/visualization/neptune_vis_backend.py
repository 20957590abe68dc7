"""NeptuneVisBackend: scalars, images and the config to a Neptune run."""

from __future__ import annotations

from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_dict
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["NeptuneVisBackend"]


@VISBACKENDS.register_module()
class NeptuneVisBackend(BaseVisBackend):
    """Logs to a Neptune run (``neptune.init_run``), as MMEngine's backend of the same name.

    Each scalar is a series under its key, appended at ``step`` (the global training iteration);
    the config is the run's ``config`` field and the environment its ``environment`` field.
    Without a Neptune server, pass ``init_kwargs=dict(mode='offline')`` (or set
    ``NEPTUNE_MODE=offline``): the run is kept under ``.neptune/`` for ``neptune sync``.

    Args:
        save_dir: Unused by Neptune (kept for the common backend signature).
        init_kwargs: Keyword arguments of ``neptune.init_run`` (``project``, ``api_token``,
            ``mode``, ``name``, ...).
    """

    def __init__(self, save_dir: str | None = None, init_kwargs: dict | None = None) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        self._resume: dict | None = None
        self._neptune: Any = None
        self._run: Any = None

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ``neptune.Run``."""
        return self._run

    def _init_env(self) -> None:
        self._neptune = import_tracker("neptune", "neptune", "NeptuneVisBackend")
        kwargs = dict(self._init_kwargs)
        if self._resume and self._resume.get("run_id"):
            kwargs["with_id"] = self._resume["run_id"]
        self._run = self._neptune.init_run(**kwargs)

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Set the run's ``config`` (and ``environment``) fields."""
        from neptune.utils import stringify_unsupported

        self._run["config"] = stringify_unsupported(config_to_dict(config))
        env = kwargs.get("env")
        if env:
            self._run["environment"] = stringify_unsupported(dict(env))

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Append ``image`` (HWC uint8 RGB) to the series ``name`` at ``step``."""
        from neptune.types import File

        self._run[name].append(File.as_image(to_image(image) / 255.0), step=step)

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Append one number to the series ``name`` at ``step`` (other values are skipped)."""
        value = to_builtin(value)
        if isinstance(value, (int, float)):
            self._run[name].append(value, step=step)

    def flush(self) -> None:
        """Wait until Neptune has taken everything logged so far."""
        if self._run is not None:
            self._run.wait()

    def close(self, exit_code: int = 0) -> None:
        """Mark the run failed after an error, then stop it."""
        if self._run is None:
            return
        if exit_code != 0:
            self._run["sys/failed"] = True
        self._run.stop()
        self._run = None

    def state_dict(self) -> dict:
        """The run id to continue (none for an offline run, which Neptune cannot continue)."""
        if self._run is None:
            return dict(self._resume or {})
        if not self._run.exists("sys/id"):
            return {}
        return {"run_id": self._run["sys/id"].fetch()}

    def load_state_dict(self, state: dict) -> None:
        """Continue the Neptune run of ``state`` on first use."""
        self._resume = dict(state) if state else None
