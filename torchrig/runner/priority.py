"""Hook priorities (MMEngine's ``mmengine.runner.priority``).

A hook's priority is an integer from 0 (runs first) to 100 (runs last), given as a number, a
:class:`Priority` member or a member's name (case-insensitive). Hooks of equal priority keep
the order in which they were registered.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Priority", "get_priority"]


class Priority(Enum):
    """Named hook priorities; a lower value runs earlier.

    ============  =====
    Name          Value
    ============  =====
    HIGHEST       0
    VERY_HIGH     10
    HIGH          30
    ABOVE_NORMAL  40
    NORMAL        50
    BELOW_NORMAL  60
    LOW           70
    VERY_LOW      90
    LOWEST        100
    ============  =====
    """

    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """The integer value of a priority.

    Args:
        priority: An integer in ``[0, 100]``, a :class:`Priority` or the name of one
            (e.g. ``'NORMAL'`` or ``'normal'``).

    Returns:
        The priority as an integer; lower runs earlier.

    Raises:
        ValueError: An integer outside ``[0, 100]`` or an unknown name.
        TypeError: Anything else.
    """
    if isinstance(priority, Priority):
        return priority.value
    if isinstance(priority, bool):
        raise TypeError("priority must be an int, str or Priority, got a bool")
    if isinstance(priority, int):
        if not 0 <= priority <= 100:
            raise ValueError(f"priority must be between 0 and 100, got {priority}")
        return priority
    if isinstance(priority, str):
        try:
            return Priority[priority.upper()].value
        except KeyError:
            names = ", ".join(member.name for member in Priority)
            raise ValueError(f"unknown priority {priority!r}; use one of {names}") from None
    raise TypeError(f"priority must be an int, str or Priority, got {type(priority).__name__}")
