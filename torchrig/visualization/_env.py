"""What a run records about itself: its config as plain values, and its environment."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = ["collect_env", "config_to_dict", "config_to_text", "describe", "flatten_dict"]

_PACKAGES = ("torch", "numpy", "wandb", "tensorboard", "mlflow", "mmengine")


def describe(value: Any, depth: int = 0) -> Any:
    """Turn a config value into plain JSON-able values, describing objects as far as possible.

    A Runner built from objects hands over a config that holds modules, datasets, optimizers
    and functions; they are described by their type and, when they have them, their simple
    attributes, so the tracker still shows what was trained.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 8:
        return repr(value)[:200]
    if isinstance(value, Mapping):
        return {str(k): describe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [describe(v, depth + 1) for v in value]
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        module = getattr(value, "__module__", "") or ""
        return f"{module}.{getattr(value, '__qualname__', repr(value))}".lstrip(".")
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            return item()
        except Exception:  # noqa: BLE001
            pass
    return _describe_object(value, depth)


def _describe_object(value: Any, depth: int) -> Any:
    cls = type(value)
    described: dict[str, Any] = {"type": f"{cls.__module__}.{cls.__qualname__}"}
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        for key, field in fields.items():
            if key.startswith("_"):
                continue
            if field is None or isinstance(field, (bool, int, float, str)):
                described[key] = field
    if len(described) == 1:
        described["repr"] = repr(value)[:500]
    return described


def config_to_dict(config: Any) -> dict:
    """The config (a Config, ConfigDict or dict) as a plain, JSON-able dict."""
    if config is None:
        return {}
    to_dict = getattr(config, "to_dict", None)
    raw = to_dict() if callable(to_dict) else dict(config)
    return describe(raw)


def config_to_text(config: Any) -> str:
    """The config as readable text: Python for a Config, else a JSON-like dump."""
    text = getattr(config, "pretty_text", None)
    if isinstance(text, str):
        return text
    import json

    return json.dumps(config_to_dict(config), indent=2, default=str)


def flatten_dict(data: Mapping, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten_dict(value, name, sep))
        else:
            flat[name] = value
    return flat


@functools.lru_cache(maxsize=1)
def collect_env() -> dict[str, Any]:
    """Versions, platform and the git commit of the working directory (when there is one)."""
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": platform.node(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
    }
    try:
        from torchrig.version import __version__

        env["torchrig"] = __version__
    except ImportError:
        pass
    for package in _PACKAGES:
        try:
            env[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    env.update(_git_info())
    return env


def _git_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}
