"""How hooks that compare metrics (best checkpoints, early stopping) judge "better"."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DEFAULT_GREATER_KEYS", "DEFAULT_LESS_KEYS", "RULE_MAP"]

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
