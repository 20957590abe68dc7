"""LocalVisBackend: scalars as JSON lines, images as PNG files, the config as a file."""

from __future__ import annotations

import json
import os
import os.path as osp
from typing import IO, Any

from torchrig.registry import VISBACKENDS
from torchrig.visualization._env import config_to_text
from torchrig.visualization._values import dumps_flat, encode_png, to_builtin
from torchrig.visualization.base_vis_backend import BaseVisBackend, force_init_env

__all__ = ["LocalVisBackend"]

_BUFFER = 1 << 16  # rows reach the disk in 64 KiB writes; flush() fsyncs


@VISBACKENDS.register_module()
class LocalVisBackend(BaseVisBackend):
    """Writes everything to files under ``save_dir``; always available, never loses data.

    ``save_dir/scalars.json`` holds one JSON object a line (the values and their ``step``);
    images go to ``save_dir/<img_save_dir>/<name>_<step>.png``; the config to
    ``save_dir/<config_save_file>`` and the environment to ``save_dir/environment.json``.
    :meth:`flush` fsyncs the files.

    Args:
        save_dir: The directory to write to (the visualizer passes ``<its save_dir>/vis_data``).
        img_save_dir: Image directory, relative to ``save_dir``.
        config_save_file: Config file name, relative to ``save_dir``.
        scalar_save_file: Scalar file name, relative to ``save_dir``.
    """

    def __init__(
        self,
        save_dir: str,
        img_save_dir: str = "vis_image",
        config_save_file: str = "config.py",
        scalar_save_file: str = "scalars.json",
    ) -> None:
        if not scalar_save_file.endswith(".json"):
            raise ValueError(
                f"LocalVisBackend: scalar_save_file must end with .json, got {scalar_save_file!r}"
            )
        super().__init__(save_dir)
        self._img_save_dir = self._img_dir_name = img_save_dir
        self._config_save_file = self._config_name = config_save_file
        self._scalar_save_file = self._scalar_name = scalar_save_file
        self._files: dict[str, IO[str]] = {}
        self._extra_files: dict[str, str] = {}  # add_scalars' file_path -> its path

    @property
    def experiment(self) -> LocalVisBackend:
        """The backend itself (it has no separate tracker object)."""
        return self

    def _init_env(self) -> None:
        if self._save_dir is None:
            raise ValueError("LocalVisBackend needs a save_dir")
        os.makedirs(self._save_dir, exist_ok=True)
        self._img_save_dir = osp.join(self._save_dir, self._img_dir_name)
        self._config_save_file = osp.join(self._save_dir, self._config_name)
        self._scalar_save_file = osp.join(self._save_dir, self._scalar_name)

    @force_init_env
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Write the config to ``config_save_file`` and ``kwargs['env']`` to environment.json."""
        dump = getattr(config, "dump", None)
        if callable(dump) and self._config_save_file.endswith(".py"):
            dump(self._config_save_file)
        else:
            with open(self._config_save_file, "w", encoding="utf-8") as f:
                f.write(config_to_text(config))
        env = kwargs.get("env")
        if env:
            with open(osp.join(self._save_dir, "environment.json"), "w", encoding="utf-8") as f:
                json.dump(env, f, indent=2, default=str)

    @force_init_env
    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Write ``image`` (HWC uint8 RGB) to ``<img_save_dir>/<name>_<step>.png``."""
        path = osp.join(self._img_save_dir, f"{name}_{step}.png")
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(encode_png(image))

    @force_init_env
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Append ``{name: value, 'step': step}`` to the scalar file."""
        line = dumps_flat({name: to_builtin(value), "step": step}) + "\n"
        self._append(self._scalar_save_file, line)

    @force_init_env
    def add_scalars(
        self,
        scalar_dict: dict,
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Append the values and their ``step`` to the scalar file (and to ``file_path``).

        Args:
            scalar_dict: Keys and values.
            step: The global training iteration (a ``step`` key in the dict wins).
            file_path: Another ``.json`` file under ``save_dir`` to append the line to.
            **kwargs: Unused.
        """
        extra = ""
        if file_path is not None:
            extra = self._extra_files.get(file_path)
            if extra is None:
                extra = self._extra_file(file_path)
        record = {key: to_builtin(value) for key, value in scalar_dict.items()}
        record.setdefault("step", step)
        line = dumps_flat(record) + "\n"
        if extra:
            self._append(extra, line)
        self._append(self._scalar_save_file, line)

    def _extra_file(self, file_path: str) -> str:
        """Where ``add_scalars``' ``file_path`` goes ('' if it is the scalar file itself)."""
        if not file_path.endswith(".json"):
            raise ValueError(f"LocalVisBackend: file_path must end with .json, got {file_path!r}")
        extra = osp.join(self._save_dir, file_path)
        if osp.abspath(extra) == osp.abspath(self._scalar_save_file):
            extra = ""
        self._extra_files[file_path] = extra
        return extra

    def _append(self, path: str, line: str) -> None:
        file = self._files.get(path)
        if file is None:
            os.makedirs(osp.dirname(path) or ".", exist_ok=True)
            file = self._files[path] = open(path, "a", encoding="utf-8", buffering=_BUFFER)  # noqa: SIM115
        file.write(line)

    def flush(self) -> None:
        """Write the open files through to disk (fsync)."""
        for file in self._files.values():
            file.flush()
            os.fsync(file.fileno())

    def close(self, exit_code: int = 0) -> None:
        """Flush and close the files."""
        self.flush()
        for file in self._files.values():
            file.close()
        self._files.clear()

    def state_dict(self) -> dict:
        """The directory this process wrote to (for reference; nothing is re-attached)."""
        return {"save_dir": osp.abspath(self._save_dir)} if self._save_dir else {}
