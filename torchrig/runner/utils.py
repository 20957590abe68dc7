"""Runner helpers: seeding, RNG state capture, dynamic intervals (``mmengine.runner.utils``)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "calc_dynamic_intervals",
    "get_rng_state",
    "set_random_seed",
    "set_rng_state",
]


def calc_dynamic_intervals(
    start_interval: int,
    dynamic_interval_list: Sequence[tuple[int, int]] | None = None,
) -> tuple[list[int], list[int]]:
    """Turns ``[(milestone, interval), ...]`` into sorted milestones and their intervals.

    Args:
        start_interval: The interval used before the first milestone.
        dynamic_interval_list: Pairs of (epoch or iteration, interval from then on).

    Returns:
        The milestones (starting with 0) and the interval in force from each.
    """
    if dynamic_interval_list is None:
        return [0], [start_interval]
    pairs = sorted(dynamic_interval_list, key=lambda pair: pair[0])
    milestones = [0] + [int(pair[0]) for pair in pairs]
    intervals = [start_interval] + [int(pair[1]) for pair in pairs]
    return milestones, intervals


def set_random_seed(
    seed: int | None = None, deterministic: bool = False, diff_rank_seed: bool = False
) -> int:
    """Seeds python's ``random``, numpy and torch (CPU and every CUDA device).

    Args:
        seed: The seed; ``None`` draws one (the same on every rank).
        deterministic: Also select deterministic algorithms (cuDNN and
            ``torch.use_deterministic_algorithms``); slower, reproducible.
        diff_rank_seed: Add the rank to the seed so that ranks draw different numbers.

    Returns:
        The seed actually used (before the rank offset).
    """
    from torchrig.dist import get_rank, sync_random_seed

    if seed is None:
        seed = sync_random_seed()
    rank_seed = seed + get_rank() if diff_rank_seed else seed
    random.seed(rank_seed)
    np.random.seed(rank_seed % 2**32)
    torch.manual_seed(rank_seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(rank_seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    return seed


def get_rng_state() -> dict[str, Any]:
    """Captures every global random state as tensors and plain Python values.

    The result loads under ``torch.load(weights_only=True)``: numpy's and python's
    states, which hold arrays and tuples, are stored as lists.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [str(name), keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores what :func:`get_rng_state` captured.

    Args:
        state: A dict from :func:`get_rng_state` (possibly after a checkpoint round trip).
    """
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
