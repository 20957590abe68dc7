"""Version helpers (MMEngine's ``mmengine.utils.version_utils``)."""

from __future__ import annotations

import os
import re
import subprocess

__all__ = ["digit_version", "get_git_hash"]


def digit_version(version_str: str, length: int = 4) -> tuple[int, ...]:
    """Turns a version string into a comparable tuple (``'2.13.0+cpu'`` -> ``(2, 13, 0, 0, 0, 0)``).

    Pre-releases sort before the release (``'2.1.0rc1' < '2.1.0'``), post-releases after it.

    Args:
        version_str: The version, as PEP 440 writes it.
        length: How many release numbers to keep (padded with zeros).

    Returns:
        ``length`` release numbers, then two more: ``(-3|-2|-1, n)`` for ``a``/``b``/``rc`` n,
        ``(1, n)`` for ``.postn``, ``(0, 0)`` for a release.
    """
    match = re.match(
        r"^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.?post(\d+))?",
        version_str.strip().lstrip("v"),
    )
    if match is None:
        raise ValueError(f"not a version string: {version_str!r}")
    release = [int(p) for p in match.group(1).split(".")][:length]
    release += [0] * (length - len(release))
    if match.group(2):
        pre = {"a": -3, "b": -2, "rc": -1}[match.group(2)]
        return (*release, pre, int(match.group(3)))
    if match.group(4):
        return (*release, 1, int(match.group(4)))
    return (*release, 0, 0)


def get_git_hash(fallback: str = "unknown", digits: int | None = None) -> str:
    """The commit hash of the git repository in the current directory.

    Args:
        fallback: Returned when there is no git or no repository.
        digits: Keep only this many leading characters.

    Returns:
        The hash (or ``fallback``).
    """
    if digits is not None and not isinstance(digits, int):
        raise TypeError(f"digits must be None or an integer, got {digits!r}")
    env = {key: os.environ[key] for key in ("SYSTEMROOT", "PATH", "HOME") if key in os.environ}
    env.update(LANGUAGE="C", LANG="C", LC_ALL="C")
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, env=env, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return fallback
    sha = out.strip().decode("ascii")
    return sha[:digits] if digits is not None else sha
