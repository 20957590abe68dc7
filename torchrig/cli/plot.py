"""Curves from the local backend's ``scalars.json`` files: train and val on one iteration axis."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["default_keys", "plot_curves", "read_scalars"]

_AXIS_FIELDS = {"step", "epoch", "iter"}


def read_scalars(work_dir: Path) -> list[dict[str, Any]]:
    """Reads every ``vis_data/scalars.json`` under ``work_dir``, oldest run first.

    A resumed training writes a new timestamped folder; where two runs logged the same key at
    the same step, the later run's value is kept, so the curves show each step once.
    """
    files = sorted(work_dir.glob("**/vis_data/scalars.json"), key=lambda p: p.parent.parent.name)
    merged: dict[tuple[int, frozenset[str]], dict[str, Any]] = {}
    for path in files:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # A line cut short by a killed process; the rest of the file is still good.
                    continue
                if "step" not in record:
                    continue
                keys = frozenset(k for k in record if k not in _AXIS_FIELDS)
                merged[(int(record["step"]), keys)] = record
    return [merged[k] for k in sorted(merged, key=lambda k: k[0])]


def default_keys(records: list[dict[str, Any]]) -> list[str]:
    """Losses and validation metrics: what one usually wants to see."""
    seen: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key in _AXIS_FIELDS or not isinstance(value, int | float):
                continue
            if re.search(r"loss|acc|top|map|miou|f1|precision|recall", key, re.IGNORECASE):
                seen.setdefault(key, None)
    return list(seen)


def plot_curves(
    records: list[dict[str, Any]], out: Path, keys: list[str] | None = None
) -> list[str]:
    """Draws one panel per key, value against training iteration, and saves a PNG.

    Returns:
        The keys drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = keys or default_keys(records)
    series = {}
    for key in keys:
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), int | float)]
        if points:
            series[key] = points
    if not series:
        available = sorted({k for r in records for k in r if k not in _AXIS_FIELDS})
        raise ValueError(f"none of the keys {keys} was logged; logged keys: {available}")
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.6 * len(series)), squeeze=False)
    for axis, (key, points) in zip(axes[:, 0], series.items()):
        steps, values = zip(*points)
        axis.plot(steps, values, marker="o" if len(points) < 30 else None, label=key)
        axis.set_title(key)
        axis.set_xlabel("iteration")
        axis.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return list(series)
