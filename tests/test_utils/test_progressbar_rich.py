"""The rich progress bar, in this process and in a pool of processes."""

from __future__ import annotations

import pytest

from torchrig.utils import track_progress_rich


def _square(x):
    return x * x


def _add(a, b=0):
    return a + b


def test_track_progress_rich():
    assert track_progress_rich(_square, [1, 2, 3]) == [1, 4, 9]
    assert track_progress_rich(_add, [(1, 2), {"a": 3, "b": 4}], nproc=2) == [3, 7]
    assert track_progress_rich(lambda: 5, task_num=2) == [5, 5]
    with pytest.raises(ValueError, match="task_num"):
        track_progress_rich(_square, [])
