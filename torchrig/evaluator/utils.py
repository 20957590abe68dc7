"""Helpers for reading metrics."""

from __future__ import annotations

from typing import Any

__all__ = ["get_metric_value"]


def get_metric_value(indicator: str, metrics: dict[str, Any]) -> Any:
    """The value of metric ``indicator``, given with or without its prefix.

    Args:
        indicator: ``'prefix/name'`` or just ``'name'`` (must then be unambiguous).
        metrics: The evaluator's results.

    Raises:
        ValueError: No metric, or several, match.
    """
    if indicator in metrics:
        return metrics[indicator]
    matches = [key for key in metrics if key.split("/")[-1] == indicator]
    if not matches:
        raise ValueError(f"The indicator {indicator!r} matches no metric in {list(metrics)}")
    if len(matches) > 1:
        raise ValueError(
            f"The indicator {indicator!r} is ambiguous: {matches}; give it with its prefix"
        )
    return metrics[matches[0]]
