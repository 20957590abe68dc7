"""AimVisBackend: scalars, images and the config to an Aim run."""

from __future__ import annotations

from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_dict
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["AimVisBackend"]


@VISBACKENDS.register_module()
class AimVisBackend(BaseVisBackend):
    """Tracks to an Aim run (``aim.Run``), as MMEngine's backend of the same name.

    Scalars are tracked under their key at ``step`` (the global training iteration), the config
    as the run's ``hparams`` and the environment as ``environment``.

    Args:
        save_dir: The Aim repository (``repo`` of ``aim.Run``) when ``init_kwargs`` names none.
        init_kwargs: Keyword arguments of ``aim.Run`` (``repo``, ``experiment``, ...).
    """

    def __init__(self, save_dir: str | None = None, init_kwargs: dict | None = None) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        self._resume: dict | None = None
        self._aim: Any = None
        self._run: Any = None

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ``aim.Run``."""
        return self._run

    def _init_env(self) -> None:
        self._aim = import_tracker("aim", "aim", "AimVisBackend")
        kwargs = dict(self._init_kwargs)
        if self._save_dir and "repo" not in kwargs:
            kwargs["repo"] = self._save_dir
        if self._resume and self._resume.get("run_hash"):
            kwargs["run_hash"] = self._resume["run_hash"]
        self._run = self._aim.Run(**kwargs)

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Set the run's ``hparams`` (and ``environment``)."""
        self._run["hparams"] = config_to_dict(config)
        env = kwargs.get("env")
        if env:
            self._run["environment"] = config_to_dict(dict(env))

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Track ``image`` (HWC uint8 RGB) under ``name`` at ``step``."""
        self._run.track(self._aim.Image(to_image(image)), name=name, step=step)

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Track one number at ``step`` (other values are skipped)."""
        value = to_builtin(value)
        if isinstance(value, (int, float)):
            self._run.track(value, name=name, step=step)

    def close(self, exit_code: int = 0) -> None:
        """Close the run."""
        if self._run is None:
            return
        self._run.close()
        self._run = None

    def state_dict(self) -> dict:
        """The run hash to continue."""
        if self._run is None:
            return dict(self._resume or {})
        return {"run_hash": self._run.hash}

    def load_state_dict(self, state: dict) -> None:
        """Continue the Aim run of ``state`` on first use."""
        self._resume = dict(state) if state else None
