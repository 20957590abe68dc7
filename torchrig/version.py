"""The installed torchrig version."""

from __future__ import annotations

__all__ = ["__version__", "parse_version_info", "version_info"]

__version__ = "0.1.0"

# The MMEngine release whose public API torchrig implements: ``mmengine.__version__`` under
# the alias (torchrig.compat), which OpenMMLab packages compare with their minimum.
MMENGINE_API_VERSION = "0.10.7"


def parse_version_info(version_str: str) -> tuple[int | str, ...]:
    """Splits a version string into a tuple: ``'1.3.0rc0'`` -> ``(1, 3, 0, 'rc0')``.

    Args:
        version_str: The version, numbers separated by dots, optionally ending in ``rcN``.

    Returns:
        The numbers as ints, then the release candidate (if any) as a string.
    """
    info: list[int | str] = []
    for part in version_str.split("."):
        if part.isdigit():
            info.append(int(part))
        elif "rc" in part:
            number, candidate = part.split("rc", 1)
            info.append(int(number))
            info.append(f"rc{candidate}")
        else:
            raise ValueError(f"cannot parse version {version_str!r}: unexpected part {part!r}")
    return tuple(info)


version_info = parse_version_info(__version__)
