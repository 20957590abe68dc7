"""Which files of a run's log directory a backend uploads as artifacts when it closes."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Iterator

__all__ = ["artifact_files", "suffix_tuple"]

# Tracker folders that live inside the log directory: their files are the trackers' own.
_SKIPPED_DIRS = frozenset({"mlartifacts", "wandb", "__pycache__", ".neptune", ".aim", "dvclive"})


def suffix_tuple(suffix: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """``'.py'`` or ``['.py', '.pth']`` -> a tuple that ``str.endswith`` takes."""
    return (suffix,) if isinstance(suffix, str) else tuple(suffix)


def artifact_files(log_dir: str, suffixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Yield ``(path, folder relative to log_dir or '')`` for each file ending in ``suffixes``.

    Args:
        log_dir: The run's log directory (the work dir's timestamped folder).
        suffixes: File endings to upload (``('.py', '.json')``).
    """
    for root, dirs, files in os.walk(log_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        relative = osp.relpath(root, log_dir)
        for file in sorted(files):
            if file.endswith(suffixes) and not file.startswith("torchrig-wandb"):
                yield osp.join(root, file), "" if relative == "." else relative
