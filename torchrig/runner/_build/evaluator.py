"""Building an Evaluator from one metric config, a list of them, or an evaluator config."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.evaluator import Evaluator

__all__ = ["build_evaluator"]


def build_evaluator(evaluator: Any) -> Evaluator:
    """Builds the evaluator of a val or test loop.

    Args:
        evaluator: An ``Evaluator``; ``dict(type='Evaluator', metrics=[...])`` or any dict
            with ``metrics`` (built through EVALUATOR); a single metric (config or object) or
            a list of them (wrapped in an ``Evaluator``).
    """
    from torchrig.evaluator import BaseMetric, Evaluator
    from torchrig.registry import EVALUATOR

    if isinstance(evaluator, Evaluator):
        return evaluator
    if isinstance(evaluator, dict) and "metrics" in evaluator:
        cfg = copy.deepcopy(dict(evaluator))
        cfg.setdefault("type", "Evaluator")
        return EVALUATOR.build(cfg)
    if isinstance(evaluator, (dict, list, tuple, BaseMetric)):
        return Evaluator(evaluator)
    raise TypeError(
        "an evaluator must be an Evaluator, a metric config dict or a list of them, got "
        f"{type(evaluator).__name__}"
    )
