"""Progress bars, timers and versions: real loops, real processes, real output."""

from __future__ import annotations

import io
import re

import pytest

from torchrig.utils import (
    ProgressBar,
    Timer,
    TimerError,
    check_time,
    digit_version,
    get_git_hash,
    track_iter_progress,
    track_parallel_progress,
    track_progress,
    track_progress_rich,
)
from torchrig.version import parse_version_info


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


def test_track_progress_rich():
    assert track_progress_rich(_square, [1, 2, 3]) == [1, 4, 9]
    assert track_progress_rich(_add, [(1, 2), {"a": 3, "b": 4}], nproc=2) == [3, 7]
    assert track_progress_rich(lambda: 5, task_num=2) == [5, 5]
    with pytest.raises(ValueError, match="task_num"):
        track_progress_rich(_square, [])


def test_timer():
    timer = Timer()
    assert timer.is_running
    assert timer.since_start() >= 0 and timer.since_last_check() >= 0
    stopped = Timer(start=False)
    with pytest.raises(TimerError, match="not running") as info:
        stopped.since_start()
    assert info.value.message == "timer is not running"
    assert check_time("torchrig-test") == 0
    assert check_time("torchrig-test") >= 0


def test_timer_context_prints(capsys):
    with Timer(print_tmpl="took {:.1f}s"):
        pass
    assert re.fullmatch(r"took \d+\.\ds\n", capsys.readouterr().out)


def test_versions(tmp_path, monkeypatch):
    assert digit_version("1.2.3rc1") < digit_version("1.2.3") < digit_version("1.2.3.post1")
    assert digit_version("2.13.0+cpu") == (2, 13, 0, 0, 0, 0)
    assert parse_version_info("1.3.0rc0") == (1, 3, 0, "rc0")
    assert parse_version_info("0.10.7") == (0, 10, 7)
    monkeypatch.chdir(tmp_path)
    assert get_git_hash(fallback="none") == "none"  # not a repository
    with pytest.raises(TypeError, match="digits"):
        get_git_hash(digits="7")


def test_git_hash_of_this_repository():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        sha = get_git_hash(digits=7)
    finally:
        os.chdir(cwd)
    assert re.fullmatch(r"[0-9a-f]{7}", sha)
