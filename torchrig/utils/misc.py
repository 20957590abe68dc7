"""Small helpers used across torchrig (MMEngine's ``mmengine.utils`` names)."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "digit_version",
    "import_modules_from_strings",
    "is_list_of",
    "is_seq_of",
    "is_str",
    "is_tuple_of",
    "mkdir_or_exist",
]


def is_str(x: Any) -> bool:
    """Whether ``x`` is a string."""
    return isinstance(x, str)


def is_seq_of(
    seq: Any, expected_type: type | tuple[type, ...], seq_type: type | None = None
) -> bool:
    """Whether ``seq`` is a sequence (of ``seq_type`` if given) whose items are all ``expected_type``."""
    exp_seq_type = Sequence if seq_type is None else seq_type
    if not isinstance(seq, exp_seq_type):
        return False
    return all(isinstance(item, expected_type) for item in seq)


def is_list_of(seq: Any, expected_type: type | tuple[type, ...]) -> bool:
    """Whether ``seq`` is a list whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=list)


def is_tuple_of(seq: Any, expected_type: type | tuple[type, ...]) -> bool:
    """Whether ``seq`` is a tuple whose items are all ``expected_type``."""
    return is_seq_of(seq, expected_type, seq_type=tuple)


def import_modules_from_strings(
    imports: str | Iterable[str] | None, allow_failed_imports: bool = False
) -> ModuleType | list[ModuleType | None] | None:
    """Imports modules named by strings, as ``custom_imports`` in a config asks.

    Args:
        imports: A module name or a list of them.
        allow_failed_imports: Warn and return None for a module that fails to import,
            instead of raising.

    Returns:
        The module, or a list of modules (None for those that failed), in order.
    """
    if not imports:
        return None
    single = isinstance(imports, str)
    names = [imports] if single else list(imports)
    modules: list[ModuleType | None] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"custom_imports must name modules as strings, got {name!r}")
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            if not allow_failed_imports:
                raise ImportError(
                    f"custom_imports: failed to import {name!r}: {err}. Check the module "
                    "path, or set allow_failed_imports=True to go on without it"
                ) from err
            import warnings

            warnings.warn(f"custom_imports: {name!r} failed to import and is skipped", stacklevel=2)
            modules.append(None)
    return modules[0] if single else modules


def mkdir_or_exist(dir_name: str | os.PathLike, mode: int = 0o777) -> None:
    """Creates a directory and its parents if they do not exist."""
    if dir_name == "":
        return
    Path(dir_name).expanduser().mkdir(mode=mode, parents=True, exist_ok=True)


def digit_version(version_str: str, length: int = 4) -> tuple[int, ...]:
    """Turns a version string into a comparable tuple (``'2.13.0+cpu'`` -> ``(2, 13, 0, 0, 0, 0)``).

    Pre-releases sort before the release: ``'2.1.0rc1' < '2.1.0'``.
    """
    match = re.match(r"^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?", version_str.strip().lstrip("v"))
    if match is None:
        raise ValueError(f"not a version string: {version_str!r}")
    release = [int(p) for p in match.group(1).split(".")][:length]
    release += [0] * (length - len(release))
    if match.group(2):
        pre = {"a": -3, "b": -2, "rc": -1}[match.group(2)]
        return (*release, pre, int(match.group(3)))
    return (*release, 0, 0)
