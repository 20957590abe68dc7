"""Text progress bars: real loops, real processes, real output."""

from __future__ import annotations

import io
import re

import pytest

from torchrig.utils import ProgressBar, track_iter_progress, track_parallel_progress, track_progress


def _square(x):
    return x * x


def _add(a, b=0):
    return a + b


def test_progress_bar_writes_counts():
    out = io.StringIO()
    bar = ProgressBar(4, bar_width=10, file=out)
    for _ in range(4):
        bar.update()
    text = out.getvalue()
    assert text.startswith("[          ] 0/4")
    assert re.search(r"\[>+\] 4/4, .* task/s, elapsed: \d+s, ETA:\s+0s$", text)
    out = io.StringIO()
    bar = ProgressBar(file=out)
    bar.update(3)
    assert "completed: 3" in out.getvalue()
    with pytest.raises(ValueError):
        bar.update(0)


def test_track_progress_functions():
    out = io.StringIO()
    assert track_progress(_add, [1, 2, 3], file=out, b=10) == [11, 12, 13]
    assert "3/3" in out.getvalue()
    assert track_progress(_square, (iter([2, 3]), 2), file=io.StringIO()) == [4, 9]
    with pytest.raises(TypeError, match="tasks"):
        track_progress(_square, 5, file=io.StringIO())
    assert list(track_iter_progress([1, 2], file=io.StringIO())) == [1, 2]


def test_track_parallel_progress_runs_in_processes():
    out = io.StringIO()
    assert track_parallel_progress(_square, list(range(6)), nproc=2, file=out) == [
        0,
        1,
        4,
        9,
        16,
        25,
    ]
    assert "6/6" in out.getvalue()
    unordered = track_parallel_progress(
        _square, list(range(6)), 2, keep_order=False, skip_first=True, file=io.StringIO()
    )
    assert sorted(unordered) == [0, 1, 4, 9, 16, 25]
