from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.logging import MMLogger, print_log

LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d - (\S+) - (\w+) - (.*)$")


def _close(logger: MMLogger) -> None:
    logger.close()


def test_console_and_file_lines(tmp_path, capsys) -> None:
    log_file = tmp_path / "sub" / "run.log"
    logger = MMLogger.get_instance("t1", logger_name="exp", log_file=str(log_file))
    try:
        assert MMLogger.get_current_instance() is logger
        assert logger.log_file == str(log_file)
        logger.info("hello")
        logger.debug("hidden")
        logger.warning("careful")
        logger.warning("careful")  # duplicate warnings are shown once
        logger.error("broken")
    finally:
        _close(logger)
    out = capsys.readouterr().out.splitlines()
    assert re.match(r"^\d\d/\d\d \d\d:\d\d:\d\d - exp - INFO - hello$", out[0])
    assert len(out) == 3 and "careful" in out[1] and "test_logger.py" in out[2]
    lines = log_file.read_text().splitlines()
    parsed = [LINE.match(line).groups() for line in lines]
    assert [(p[1], p[2].split(" - ")[-1]) for p in parsed] == [
        ("INFO", "hello"),
        ("WARNING", "careful"),
        ("ERROR", "broken"),
    ]
    assert all(p[0] == "exp" for p in parsed)


def test_get_instance_returns_existing_and_file_mode(tmp_path) -> None:
    log_file = tmp_path / "a.log"
    log_file.write_text("old line\n")
    logger = MMLogger.get_instance("t2", log_file=str(log_file), file_mode="a", log_level="DEBUG")
    try:
        assert MMLogger.get_instance("t2") is logger
        logger.debug("dbg")
    finally:
        _close(logger)
    text = log_file.read_text()
    assert text.startswith("old line\n") and "DEBUG - dbg" in text
    with pytest.raises(ValueError, match="log level"):
        MMLogger("bad", log_level="LOUD")


def test_not_propagated_to_root(caplog) -> None:
    logger = MMLogger.get_instance("t3")
    with caplog.at_level(logging.INFO):
        logger.info("only mine")
    assert "only mine" not in caplog.text
    assert logger not in logging.Logger.manager.loggerDict.values()


def test_non_zero_rank_console_shows_errors_only_and_writes_no_file(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    logger = MMLogger("r1", log_file=str(tmp_path / "r1.log"))
    logger.info("quiet")
    logger.error("loud")
    out = capsys.readouterr().out
    assert "quiet" not in out and "loud" in out
    assert not (tmp_path / "r1.log").exists()
    per_rank = MMLogger("r1b", log_file=str(tmp_path / "r.log"), distributed=True)
    try:
        per_rank.info("mine")
        assert re.search(r"r_.+_device0_rank1\.log$", per_rank.log_file)
        assert "mine" in open(per_rank.log_file).read()
    finally:
        _close(per_rank)


def test_set_level_applies_at_once(capsys) -> None:
    logger = MMLogger.get_instance("t4", log_level="DEBUG")
    logger.setLevel("WARNING")
    logger.info("dropped")
    logger.setLevel(logging.INFO)
    logger.info("kept")
    out = capsys.readouterr().out
    assert "dropped" not in out and "kept" in out


def test_print_log(capsys) -> None:
    print_log("plain")
    assert capsys.readouterr().out == "plain\n"
    print_log("silent", logger="silent")
    assert capsys.readouterr().out == ""
    logger = MMLogger.get_instance("named")
    print_log("by name", logger="named", level="WARNING")
    print_log("current", logger="current")
    print_log("object", logger=logger, level=logging.ERROR)
    out = capsys.readouterr().out
    assert "WARNING - by name" in out and "INFO - current" in out and "object" in out
    std = logging.getLogger("torchrig-test-std")
    std.propagate = False
    print_log("ignored level", logger=std, level=logging.DEBUG)
    with pytest.raises(ValueError, match="no MMLogger named 'ghost'"):
        print_log("x", logger="ghost")
    with pytest.raises(TypeError):
        print_log("x", logger=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("color", [True, False])
def test_formatter_lines_match_logging_formatter(color) -> None:
    from torchrig.logging.logger import MMFormatter

    formatter = MMFormatter(color=color, datefmt="%Y/%m/%d %H:%M:%S")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        for msg, args in (("value %s", ("x",)), ("100%% done", ()), ("plain", None)):
            record = logging.LogRecord("torchrig", level, "/a.py", 3, msg, args, None, "fn")
            twin = logging.LogRecord("torchrig", level, "/a.py", 3, msg, args, None, "fn")
            twin.created = record.created
            line = formatter.format(record)
            formatter._style._fmt = formatter._formats[logging.getLevelName(level)]
            assert line == logging.Formatter.format(formatter, twin)
            assert record.asctime == twin.asctime and record.message == twin.message


def _strip_time(text: str) -> list[str]:
    return [line.split(" - ", 1)[1] for line in text.splitlines()]


class _Keep(logging.Handler):
    """Another handler: keeps the messages it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


def test_other_handlers_and_bad_messages_still_go_through_logging(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    logger = MMLogger.get_instance("own-other", logger_name="exp")
    keep = _Keep()
    seen = keep.seen
    logger.addHandler(keep)
    logger.info("to every handler")
    assert seen == ["to every handler"]
    logger.handlers.pop()
    logger.info("%d apples", "three")  # logging reports the bad format; the caller goes on
    assert "Logging error" in capsys.readouterr().err


def test_a_failing_stream_is_reported_as_logging_reports_it(monkeypatch, capsys) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk gone")

    monkeypatch.setattr(sys, "stdout", Broken())
    logger = MMLogger.get_instance("own-broken", logger_name="exp")
    logger.info("mapping %(a)s", {"a": 1})  # the caller goes on
    err = capsys.readouterr().err
    assert "Logging error" in err and "disk gone" in err and "mapping %(a)s" in err


def test_lines_are_written_when_logged_in_order_with_print(tmp_path, monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    log_file = tmp_path / "now.log"
    logger = MMLogger.get_instance("now", logger_name="exp", log_file=str(log_file))
    try:
        logger.info("first")
        assert log_file.read_text().endswith(" - exp - INFO - first\n")  # no flush needed
        print("printed")
        logger.info("second")
    finally:
        _close(logger)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" - ", 1)[-1] for line in lines] == ["first", "printed", "second"]


def test_a_killed_process_loses_no_logged_line(tmp_path) -> None:
    log_file = tmp_path / "killed.log"
    code = (
        "import os, signal, sys\n"
        "from torchrig.logging import MMLogger\n"
        "logger = MMLogger.get_instance('killed', log_file=sys.argv[1])\n"
        "for i in range(3): logger.info(f'line {i}')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", code, str(log_file)], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    assert [line.split(" - ")[-1] for line in log_file.read_text().splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_filter_duplicate_warning_lets_each_warning_through_once():
    import logging

    from torchrig.logging.logger import FilterDuplicateWarning

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(FilterDuplicateWarning("dup-test"))
    logger = logging.getLogger("dup-test")
    logger.addHandler(handler)
    try:
        for _ in range(3):
            logger.warning("disk almost full")
            logger.error("an error repeats")
        logger.warning("another warning")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        "disk almost full",
        "an error repeats",
        "an error repeats",
        "an error repeats",
        "another warning",
    ]
