"""How hooks that compare metrics (best checkpoints, early stopping) judge "better"."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DEFAULT_GREATER_KEYS", "DEFAULT_LESS_KEYS", "RULE_MAP", "infer_rule"]

RULE_MAP: dict[str, Callable[[float, float], bool]] = {
    "greater": lambda x, y: x > y,
    "less": lambda x, y: x < y,
}
"""``rule`` name -> whether its first argument is better than its second."""

# Substrings of metric names whose rule is inferred when none is given (MMEngine's lists).
DEFAULT_GREATER_KEYS = [
    "acc",
    "top",
    "AR@",
    "auc",
    "precision",
    "mAP",
    "mDice",
    "mIoU",
    "mAcc",
    "aAcc",
]
DEFAULT_LESS_KEYS = ["loss"]


def infer_rule(key: str, greater_keys: list[str], less_keys: list[str], owner: str) -> str:
    """``'greater'`` or ``'less'`` for metric ``key``: an exact (case-insensitive) match with
    one of the keys first, then a key contained in the name.

    Raises:
        ValueError: Neither list says; the message names ``owner`` (the hook) and the fix.
    """
    name = key.lower()
    greater = {k.lower() for k in greater_keys}
    less = {k.lower() for k in less_keys}
    for rule, keys in (("greater", greater), ("less", less)):
        if name in keys:
            return rule
    for rule, keys in (("greater", greater), ("less", less)):
        if any(k in name for k in keys):
            return rule
    raise ValueError(
        f"{owner}: cannot tell whether a greater or a smaller {key!r} is better; "
        "pass rule='greater' or rule='less'"
    )
