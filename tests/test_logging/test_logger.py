from __future__ import annotations

import io
import logging
import re
import sys

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


def test_console_lines_pass_wandb_capture_only_when_a_run_captures(monkeypatch) -> None:
    capture = pytest.importorskip("wandb.sdk.lib.console_capture")
    stream = io.StringIO()
    capture._patch(stream, capture._stdout_callbacks)  # W&B's own wrapper, on a stream of ours
    wrapper_runs = []
    original = capture.wb_logging.log_to_all_runs
    monkeypatch.setattr(
        capture.wb_logging,
        "log_to_all_runs",
        lambda: wrapper_runs.append(1) or original(),
    )
    monkeypatch.setattr(sys, "stdout", stream)
    logger = MMLogger.get_instance("wandb-capture", logger_name="exp")
    assert not capture._stdout_callbacks and not capture._stderr_callbacks
    logger.info("not captured")
    assert stream.getvalue().endswith(" - exp - INFO - not captured\n")
    assert wrapper_runs == []  # no W&B run captures: the wrapper was passed by

    captured = []
    dispose = capture.capture_stdout(lambda data, written: captured.append(data))
    try:
        logger.info("captured")
    finally:
        dispose()
    assert wrapper_runs and captured == [stream.getvalue().splitlines(keepends=True)[-1]]
    assert captured[0].endswith("captured\n")


def _strip_time(text: str) -> list[str]:
    return [line.split(" - ", 1)[1] for line in text.splitlines()]


def test_own_handlers_get_the_same_lines_as_through_logging(tmp_path, monkeypatch) -> None:
    # Lines below WARNING go straight to the logger's own two handlers; anything attached
    # besides them sends every line through logging's records, with the same result.
    lines = {}
    for way in ("direct", "records"):
        stream = io.StringIO()
        monkeypatch.setattr(sys, "stdout", stream)
        log_file = tmp_path / f"{way}.log"
        logger = MMLogger.get_instance(f"own-{way}", logger_name="exp", log_file=str(log_file))
        if way == "records":
            logger.addFilter(lambda record: True)
        try:
            logger.info("step %d of %s", 3, "ten")
            logger.info("plain %s")  # no args: no formatting
            logger.info("mapping %(a)s", {"a": 1})
            logger.debug("hidden")
            logger.warning("careful")
        finally:
            _close(logger)
        lines[way] = (_strip_time(stream.getvalue()), _strip_time(log_file.read_text()))
    assert lines["direct"] == lines["records"]
    console, file = lines["direct"]
    assert console[:3] == [
        "exp - INFO - step 3 of ten",
        "exp - INFO - plain %s",
        "exp - INFO - mapping 1",
    ]
    assert file == console and len(file) == 4


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


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_deferred_lines_are_written_together_in_order(tmp_path, monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    log_file = tmp_path / "run.log"
    logger = MMLogger.get_instance("defer-order", logger_name="exp", log_file=str(log_file))
    try:
        logger.defer("iter 1", seconds=60)
        logger.defer("iter 2", seconds=60)
        assert stream.getvalue() == "" and log_file.read_text() == ""  # held
        logger.info("saving")  # another line writes the held ones first
        logger.defer("iter 3", seconds=60)
        logger.warning("careful")
        logger.defer("iter 4", seconds=60)
        logger.defer("hidden", seconds=60, level=logging.DEBUG)
        logger.flush()
        expected = ["iter 1", "iter 2", "saving", "iter 3", "careful", "iter 4"]
        assert [line.split(" - ")[-1] for line in stream.getvalue().splitlines()] == expected
        assert [line.split(" - ")[-1] for line in log_file.read_text().splitlines()] == expected
        # Within their time, without anything else logged: the flusher thread writes them,
        # also when another handler holds lines due much later.
        other = MMLogger.get_instance("defer-later", log_file=str(tmp_path / "later.log"))
        other.defer("later", seconds=600)
        logger.defer("iter 5", seconds=0.05)
        assert _wait_for(lambda: "iter 5" in log_file.read_text() and "iter 5" in stream.getvalue())
        assert (tmp_path / "later.log").read_text() == ""
        other.close()
        assert "later" in (tmp_path / "later.log").read_text()
    finally:
        _close(logger)


def test_deferred_lines_read_as_immediate_ones(tmp_path, monkeypatch) -> None:
    lines = {}
    for way in ("defer", "info"):
        stream = io.StringIO()
        monkeypatch.setattr(sys, "stdout", stream)
        log_file = tmp_path / f"{way}.log"
        logger = MMLogger.get_instance(
            f"defer-same-{way}", logger_name="exp", log_file=str(log_file)
        )
        try:
            for text in ("Epoch(train) [1][ 5/45]  loss: 0.5", "100% done %s"):
                if way == "defer":
                    logger.defer(text, seconds=60)
                else:
                    logger.info(text)
        finally:
            _close(logger)
        lines[way] = (_strip_time(stream.getvalue()), _strip_time(log_file.read_text()))
    assert lines["defer"] == lines["info"] and len(lines["info"][1]) == 2


def test_held_lines_take_the_formatter_set_meanwhile(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    log_file = tmp_path / "fmt.log"
    logger = MMLogger.get_instance("defer-fmt", logger_name="exp", log_file=str(log_file))
    try:
        logger.defer("held", seconds=60)
        logger.handlers[1].setFormatter(logging.Formatter("%(levelname)s|%(name)s|%(message)s"))
        logger.flush()
        assert log_file.read_text() == "INFO|exp|held\n"
    finally:
        _close(logger)


def test_defer_logs_at_once_where_it_cannot_hold_lines(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    logger = MMLogger.get_instance("defer-other", logger_name="exp")
    keep = _Keep()
    seen = keep.seen
    logger.addHandler(keep)
    try:
        logger.defer("with another handler", seconds=60)
        assert seen == ["with another handler"] and "with another handler" in stream.getvalue()
    finally:
        logger.handlers.pop()
    logger.defer("warning", seconds=60, level=logging.WARNING)
    logger.defer("no delay", seconds=0)
    assert "warning" in stream.getvalue() and "no delay" in stream.getvalue()


def test_deferred_lines_are_written_when_the_process_ends(tmp_path) -> None:
    import subprocess

    log_file = tmp_path / "exit.log"
    script = (
        "import sys\n"
        "from torchrig.logging import MMLogger\n"
        "logger = MMLogger.get_instance('exit', log_file=sys.argv[1])\n"
        "for i in range(3): logger.defer(f'line {i}', seconds=600)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(log_file)], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split(" - ")[-1] for line in out.splitlines()] == ["line 0", "line 1", "line 2"]
    assert log_file.read_text().count(" - INFO - line ") == 3


def test_log_lines_writes_each_with_its_time_after_the_deferred_ones(tmp_path, monkeypatch) -> None:
    import time

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    log_file = tmp_path / "lines.log"
    logger = MMLogger.get_instance("log-lines", logger_name="exp", log_file=str(log_file))
    try:
        logger.defer("first", seconds=60)
        stamp = time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1))
        logger.log_lines([(stamp, "second"), (stamp + 61, "third")])
        logger.log_lines([(stamp, "hidden")], level=logging.DEBUG)
        lines = log_file.read_text().splitlines()
        assert [line.split(" - ")[-1] for line in lines] == ["first", "second", "third"]
        assert lines[1].startswith("2026/01/02 03:04:05 - exp - INFO")
        assert lines[2].startswith("2026/01/02 03:05:06 - exp - INFO")
        assert stream.getvalue().splitlines()[1].startswith("01/02 03:04:05 - exp - INFO")
        keep = _Keep()
        logger.addHandler(keep)
        logger.log_lines([(stamp, "fourth")])  # another handler: through log()
        assert keep.seen == ["fourth"] and "fourth" in stream.getvalue()
    finally:
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _Keep)]
        _close(logger)


def test_the_flusher_survives_handlers_added_while_it_looks() -> None:
    # New handlers (new loggers) are watched while the flusher thread goes through the set;
    # a set that grows during that iteration raised and ended the thread.
    import threading
    import time

    from torchrig.logging import logger as module

    flusher = module._Flusher()
    flusher._thread = threading.current_thread()  # (alive: watch starts no thread of its own)
    handlers = []
    stop = time.monotonic() + 0.3

    def add() -> None:
        while time.monotonic() < stop and len(handlers) < 3000:
            handler = module._DeferringHandler(io.StringIO())
            handlers.append(handler)
            flusher.watch(handler)

    thread = threading.Thread(target=add)
    thread.start()
    while thread.is_alive():  # what the flusher thread does, from here
        flusher._write_overdue()
    thread.join()
    assert len(flusher._watched()) == len(handlers) > 100
