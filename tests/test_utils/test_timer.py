"""Timer and check_time."""

from __future__ import annotations

import re

import pytest

from torchrig.utils import Timer, TimerError, check_time


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
