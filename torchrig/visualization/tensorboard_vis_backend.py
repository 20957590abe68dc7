"""TensorboardVisBackend: event files written by ``torch.utils.tensorboard.SummaryWriter``."""

from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_text
from torchrig.visualization._values import to_builtin, to_image
from torchrig.visualization._writer import report
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env, import_tracker

__all__ = ["TensorboardVisBackend"]


@VISBACKENDS.register_module()
class TensorboardVisBackend(BaseVisBackend):
    """Writes TensorBoard event files (the ``tensorboard`` package's format) under ``save_dir``.

    A resumed process writes to the same log directory with ``purge_step`` set to the step
    after the checkpoint, so TensorBoard drops what the earlier process logged after it.

    Args:
        save_dir: The log directory.
    """

    def __init__(self, save_dir: str) -> None:
        super().__init__(save_dir)
        self._writer: Any = None
        self._resume: dict | None = None
        self._step = 0
        self._warned: set[str] = set()

    @property
    @force_init_env
    def experiment(self) -> Any:
        """The ``SummaryWriter``."""
        return self._writer

    def _init_env(self) -> None:
        import_tracker("tensorboard", "tensorboard", "TensorboardVisBackend")
        summary = import_tracker("torch.utils.tensorboard", "tensorboard", "TensorboardVisBackend")
        log_dir = osp.abspath(self._save_dir or ".")
        purge_step = None
        if self._resume and self._resume.get("log_dir"):
            log_dir = self._resume["log_dir"]
            purge_step = int(self._resume.get("step", 0)) + 1
        os.makedirs(log_dir, exist_ok=True)
        self._save_dir = log_dir
        self._writer = summary.SummaryWriter(log_dir, purge_step=purge_step)

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Write the config (and ``kwargs['env']``) as text summaries."""
        self._writer.add_text("config", _as_markdown(config_to_text(config)))
        env = kwargs.get("env")
        if env:
            self._writer.add_text(
                "environment", _as_markdown(json.dumps(env, indent=2, default=str))
            )

    @force_init_env
    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
        """Trace ``model`` on ``data_batch`` and write its graph."""
        self._writer.add_graph(model, data_batch, **kwargs)

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Write ``image`` (HWC uint8 RGB) at ``step``."""
        array = to_image(image)
        formats = "HW" if array.ndim == 2 else "HWC"
        self._writer.add_image(name, array, step, dataformats=formats)

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Write one number at ``step`` (other values are skipped with a warning)."""
        value = to_builtin(value)
        if isinstance(value, (int, float)):
            self._writer.add_scalar(name, value, step)
            self._step = max(self._step, int(step))
        elif name not in self._warned:
            self._warned.add(name)
            report(
                f"TensorboardVisBackend: {name!r} is not a number ({type(value).__name__}); skipped"
            )

    def flush(self) -> None:
        """Write the event file through."""
        if self._writer is not None:
            self._writer.flush()

    def close(self, exit_code: int = 0) -> None:
        """Close the writer."""
        if self._writer is not None:
            self._writer.close()

    def state_dict(self) -> dict:
        """The log directory to continue in, and the last step written."""
        if self._writer is None:
            return dict(self._resume or {})
        return {"log_dir": osp.abspath(self._save_dir), "step": self._step}

    def load_state_dict(self, state: dict) -> None:
        """Continue in the log directory of ``state`` on first use."""
        if self._env_initialized:
            report("TensorboardVisBackend.load_state_dict called after writing began; ignored")
            return
        self._resume = dict(state) if state else None


def _as_markdown(text: str) -> str:
    # TensorBoard renders text summaries as markdown; indenting keeps the layout.
    return "\n".join("    " + line for line in text.splitlines())
