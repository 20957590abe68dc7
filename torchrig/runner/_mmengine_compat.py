"""Reading checkpoints that MMEngine wrote, with ``torch.load(weights_only=True)``.

An MMEngine checkpoint's message hub holds ``mmengine.logging.history_buffer.HistoryBuffer``
objects (numpy arrays inside) and its runtime info numpy scalars, which ``weights_only=True``
refuses. :func:`mmengine_safe_globals` allows exactly these, through torch's public
``torch.serialization.safe_globals``:

- ``mmengine.logging.history_buffer.HistoryBuffer`` is read as a torchrig ``HistoryBuffer``
  (MMEngine's state: ``_log_history``, ``_count_history``, ``max_length``);
- ``getattr(HistoryBuffer, 'min' | 'max' | 'current' | 'mean')``, which MMEngine pickles in a
  buffer's statistics table, and no other ``getattr``;
- numpy arrays, dtypes and scalars of every dtype but ``object`` (whose items would be pickled
  objects), under numpy 1's and numpy 2's module paths.

No code from the file runs and nothing else is allowed; no conversion step is needed.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

import torch

from torchrig.logging.history_buffer import HistoryBuffer

__all__ = ["mmengine_safe_globals"]

_STATISTICS = ("min", "max", "current", "mean")


class _MMEngineHistoryBuffer(HistoryBuffer):
    """A torchrig ``HistoryBuffer`` read from MMEngine's pickled one."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_log_history" in state:  # MMEngine's attributes (numpy arrays)
            state = {
                "log_history": [float(v) for v in state["_log_history"]],
                "count_history": [int(c) for c in state["_count_history"]],
                "max_length": int(state.get("max_length", 1000000)),
            }
        super().__setstate__(state)


def _statistic(owner: Any, name: str) -> Any:
    """``getattr`` as MMEngine's pickled statistics table uses it, and for nothing else."""
    if owner is _MMEngineHistoryBuffer and name in _STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f"an MMEngine checkpoint may call getattr only on HistoryBuffer for {_STATISTICS}, "
        f"not getattr({owner!r}, {name!r})"
    )


def _numpy_globals() -> list[Any]:
    import numpy as np

    # The functions numpy's own pickles name, found through the pickle protocol.
    reconstruct = np.zeros(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    named: list[Any] = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1, numpy 2
        named += [(reconstruct, f"{module}._reconstruct"), (scalar, f"{module}.scalar")]
    dtypes = {type(np.dtype(code)) for code in np.typecodes["All"] if code not in "OV"}
    return named + sorted(dtypes, key=str)


def _safe_globals() -> list[Any]:
    return [
        (_MMEngineHistoryBuffer, "mmengine.logging.history_buffer.HistoryBuffer"),
        (_statistic, "builtins.getattr"),
        *_numpy_globals(),
    ]


@contextlib.contextmanager
def mmengine_safe_globals() -> Iterator[None]:
    """Within it, ``torch.load(weights_only=True)`` reads MMEngine's checkpoints.

    With a torch older than 2.5 (no ``torch.serialization.safe_globals``) it does nothing.
    """
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:
        yield
        return
    with safe_globals(_safe_globals()):
        yield
