"""Installed-package helpers (MMEngine's ``mmengine.utils.package_utils``)."""

from __future__ import annotations

import importlib.util
import os.path as osp
import subprocess
import sys

__all__ = [
    "call_command",
    "get_installed_path",
    "install_package",
    "is_installed",
    "package2module",
]


def is_installed(package: str) -> bool:
    """Whether a distribution (``'mmpretrain'``) or an importable module of that name exists
    (a bare namespace package, a folder without ``__init__.py``, does not count)."""
    from importlib import metadata  # imported on use: slow to import

    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        pass
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The top-level module a distribution installs (``'mmcv-lite'`` -> ``'mmcv'``).

    Raises:
        ValueError: When the distribution does not say which module it installs.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as err:
        raise ValueError(f"can not infer the module name of {package}: not installed") from err
    top_level = [name.strip() for name in (dist.read_text("top_level.txt") or "").split()]
    public = [name for name in top_level if name and not name.startswith("_")]
    if public:
        normalized = package.lower().replace("-", "_")
        return normalized if normalized in public else public[0]
    for file in dist.files or ():
        parts = file.parts
        if len(parts) > 1 and parts[-1] == "__init__.py" and not parts[0].endswith("-info"):
            return parts[0]
    raise ValueError(f"can not infer the module name of {package}")


def get_installed_path(package: str) -> str:
    """The directory an installed package's module lives in.

    Raises:
        importlib.metadata.PackageNotFoundError: When it is not installed.
        RuntimeError: When it is a namespace package (it has no single directory).
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        location = str(dist.locate_file(""))
        path = osp.join(location, package2module(package))
        if osp.exists(path):
            return path
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise metadata.PackageNotFoundError(f"{package} is not installed (pip install {package})")
    if spec.origin is None:
        raise RuntimeError(
            f"{package} is a namespace package (no __init__.py); it has no single installed path"
        )
    return osp.dirname(spec.origin)


def call_command(cmd: list[str]) -> None:
    """Runs a command; raises ``subprocess.CalledProcessError`` when it fails."""
    subprocess.check_call(cmd)


def install_package(package: str) -> None:
    """Installs ``package`` with pip into the running Python unless it is installed."""
    if not is_installed(package):
        call_command([sys.executable, "-m", "pip", "install", package])
