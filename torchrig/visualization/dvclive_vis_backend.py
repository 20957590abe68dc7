"""DVCLiveVisBackend: metrics, params and images through DVCLive's ``Live`` logger."""

from __future__ import annotations

import os.path as osp
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._artifacts import artifact_files, suffix_tuple
from torchrig.visualization._env import config_to_dict, flatten_dict
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["DVCLiveVisBackend"]


@VISBACKENDS.register_module()
class DVCLiveVisBackend(BaseVisBackend):
    """Logs with DVCLive (``dvclive.Live``), as MMEngine's backend of the same name.

    Metrics land in ``<save_dir>/plots/metrics/<key>.tsv`` with the global training iteration
    as their ``step`` column, the config's keys in ``params.yaml``, images under
    ``plots/images``. A resumed run continues the same directory (``Live(resume=True)``).

    Args:
        save_dir: DVCLive's directory.
        artifact_suffix: Files of the run's log directory with these endings are logged as
            artifacts when the run closes.
        init_kwargs: Keyword arguments of ``dvclive.Live`` (``save_dvc_exp``, ``report``, ...).
    """

    def __init__(
        self,
        save_dir: str,
        artifact_suffix: tuple[str, ...] | str = (".json", ".py", "yaml"),
        init_kwargs: dict | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._artifact_suffix = suffix_tuple(artifact_suffix)
        self._init_kwargs = dict(init_kwargs or {})
        self._resume: dict | None = None
        self._live: Any = None

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ``dvclive.Live`` logger."""
        return self._live

    def _init_env(self) -> None:
        dvclive = import_tracker("dvclive", "dvclive", "DVCLiveVisBackend")
        kwargs = {"save_dvc_exp": False, **self._init_kwargs}
        directory = osp.abspath(self._save_dir or "dvclive")
        if self._resume and self._resume.get("dir"):
            directory = self._resume["dir"]
            kwargs["resume"] = True
        self._save_dir = directory
        self._live = dvclive.Live(dir=directory, **kwargs)

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Log the config's keys (dotted) as params (``params.yaml``)."""
        params = flatten_dict(config_to_dict(config))
        self._live.log_params({key: _param(value) for key, value in params.items()})

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Save ``image`` (HWC uint8 RGB) as ``plots/images/<name>_<step>.png``."""
        self._live.log_image(f"{name.replace('/', '_')}_{step}.png", to_image(image))

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Log one number at ``step`` (other values are skipped)."""
        self.add_scalars({name: value}, step)

    @force_init_env
    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Log each number of ``scalar_dict`` at ``step``."""
        self._live.step = int(step)
        for key, value in scalar_dict.items():
            value = to_builtin(value)
            if isinstance(value, (int, float)):
                self._live.log_metric(key, value)

    def close(self, exit_code: int = 0) -> None:
        """Log the log directory's artifacts and end the run."""
        if self._live is None:
            return
        log_dir = osp.dirname(osp.abspath(self._save_dir))
        for path, _ in artifact_files(log_dir, self._artifact_suffix):
            if not path.startswith(self._save_dir + osp.sep):
                self._live.log_artifact(path, copy=False)
        self._live.end()
        self._live = None

    def state_dict(self) -> dict:
        """The directory to continue in."""
        if self._live is None:
            return dict(self._resume or {})
        return {"dir": self._save_dir, "step": int(self._live.step)}

    def load_state_dict(self, state: dict) -> None:
        """Continue in the DVCLive directory of ``state`` on first use."""
        self._resume = dict(state) if state else None


def _param(value: Any) -> Any:
    # params.yaml holds plain values; anything else is written as its text.
    return value if isinstance(value, (bool, int, float, str, type(None))) else str(value)
