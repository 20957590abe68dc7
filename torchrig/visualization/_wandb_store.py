"""Durability for W&B: the journal of what was logged, and what a killed run's file holds.

W&B's service process (wandb-core) buffers the run's transaction log (``run-<id>.wandb``) and
writes it in blocks; a process killed with SIGKILL leaves only what reached the file (a short
run leaves just the 7-byte header). So the backend keeps its own journal of every history row
it sends, fsynced at each flush (a checkpoint), and a resumed process re-sends, from the
journals, every row logged before the checkpoint that W&B did not keep.

Which rows W&B kept: this is the one module that reads a W&B run file (W&B has no public API
for what an offline or killed run holds). It reads it only for the W&B versions it is tested
with (``_READ_VERSIONS``) and a file whose header it knows (W&B's LevelDB-style log: a 7-byte
header ``:W&B``, magic 0xBEE1, version 0, then 32 KiB blocks of crc-checked chunks, each record
a ``wandb_internal_pb2.Record``). Otherwise it falls back to W&B's public API: the rows from the
step the resumed run reports (``Run.step``) on are re-sent.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from typing import IO, Any

from torchrig.visualization._values import dumps_flat

__all__ = [
    "Journal",
    "history_rows",
    "iter_records",
    "journal_line",
    "read_journal",
    "rows_to_resend",
    "wait_until_settled",
]

# The W&B versions whose run files this module reads (both ends are tested): from the oldest
# supported (pyproject's ``wandb>=``) up to, not including, this upper bound.
_READ_VERSIONS = ((0, 19, 10), (0, 32, 0))
_HEADER = struct.Struct("<4sHB")
_HEADER_KNOWN = (b":W&B", 0xBEE1, 0)
_CHUNK = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def iter_records(path: str) -> Iterator[bytes]:
    """Yield the serialized records of a W&B run file; stops quietly at a torn tail."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    if len(data) < _HEADER.size or _HEADER.unpack_from(data) != _HEADER_KNOWN:
        return
    pos, pending = _HEADER.size, b""
    while pos + _CHUNK.size <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:
            pos += room
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:
            pos += room
            continue
        payload = data[pos + _CHUNK.size : pos + _CHUNK.size + length]
        if len(payload) < length or zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            return
        pos += _CHUNK.size + length
        if kind == _FULL:
            yield payload
        elif kind == _FIRST:
            pending = payload
        elif kind == _MIDDLE:
            pending += payload
        elif kind == _LAST:
            yield pending + payload
            pending = b""


def readable(paths: list[str]) -> bool:
    """Whether this module can read these run files: an installed W&B version it is tested
    with, and each file (that exists) starting with the header it knows."""
    try:
        from importlib.metadata import version

        from torchrig.utils import digit_version

        installed = digit_version(version("wandb"))[:3]
    except Exception:  # noqa: BLE001 - not installed, or an unreadable version string
        return False
    low, high = _READ_VERSIONS
    if not low <= installed < high:
        return False
    for path in paths:
        try:
            with open(path, "rb") as f:
                head = f.read(_HEADER.size)
        except OSError:
            continue
        if len(head) == _HEADER.size and _HEADER.unpack(head) != _HEADER_KNOWN:
            return False
    return True


def history_rows(paths: list[str], step_metric: str) -> set[tuple[int, frozenset]]:
    """``(step_metric value, its keys)`` of every history row durably in these run files
    (see :func:`readable`); keys starting with ``_`` (W&B's own) are left out."""
    from wandb.proto import wandb_internal_pb2 as pb

    steps: set[tuple[int, frozenset]] = set()
    for path in paths:
        for raw in iter_records(path):
            record = pb.Record()
            try:
                record.ParseFromString(raw)
            except Exception:  # noqa: BLE001 - a damaged record ends what we trust
                break
            if record.WhichOneof("record_type") == "history":
                steps.add(_row_key(record.history, step_metric))
    return steps


def _held_open(paths: set[str]) -> bool:
    """Whether any process has one of ``paths`` open (Linux ``/proc``; False elsewhere)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(f"{fd_dir}/{fd}") in paths:
                    return True
        except OSError:  # the process ended, or is not ours to inspect
            continue
    return False


def wait_until_settled(paths: list[str], timeout: float = 30.0, quiet: float = 0.5) -> bool:
    """Waits until no process writes ``paths`` any more: none holds them open and their sizes
    have not changed for ``quiet`` seconds (at most ``timeout`` seconds).

    W&B writes through a service process that can outlive a killed training process for a
    moment and still append its last buffered records; reading the files before it is done
    would re-send rows it was about to write.

    Returns:
        Whether the files settled within ``timeout``.
    """
    wanted = {os.path.realpath(p) for p in paths if p}
    if not wanted:
        return True

    def sizes() -> list[int]:
        return [os.path.getsize(p) if os.path.exists(p) else -1 for p in sorted(wanted)]

    deadline = time.monotonic() + timeout
    last, since = sizes(), time.monotonic()
    while time.monotonic() < deadline:
        now = sizes()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and not _held_open(wanted):
            return True
        time.sleep(0.1)
    return False


def _row_key(history: Any, step_metric: str) -> tuple[int, frozenset]:
    keys, step = set(), -1
    for item in history.item:
        key = "/".join(item.nested_key) if len(item.nested_key) else item.key
        if key.startswith("_"):
            continue
        keys.add(key)
        if key == step_metric:
            step = int(json.loads(item.value_json))
    return step, frozenset(keys)


def journal_line(step: int, row: dict) -> str:
    """A row's line in the journal: ``{"step": <step>, "row": {<key>: <value>, ...}}``."""
    return f'{{"step": {int(step)}, "row": {dumps_flat(row)}}}\n'


class Journal:
    """Append-only JSON-lines record of the history rows sent to W&B.

    Several processes of one run may append to the same journal (a fixed ``save_dir``); each
    process's rows are the ``entries`` lines from line ``start`` on.

    Args:
        path: The journal file (created, or appended to).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.start = 0
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            self.start = data.count(b"\n")
            torn = bool(data) and not data.endswith(b"\n")
        else:
            torn = False
        self._file: IO[str] = open(path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115
        if torn:  # a process killed mid-line: end that line so ours start clean
            self._file.write("\n")
            self.start += 1
        self.entries = 0

    def append(self, step: int, row: dict) -> None:
        """Record one row (values already plain numbers)."""
        self._file.write(journal_line(step, row))
        self.entries += 1

    def sync(self) -> None:
        """Write the journal through to disk."""
        self._file.flush()
        os.fsync(self._file.fileno())

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._file.closed

    def close(self) -> None:
        """Sync and close the file."""
        if not self._file.closed:
            self.sync()
            self._file.close()


def read_journal(path: str, start: int, entries: int) -> list[tuple[int, dict]]:
    """Rows ``start`` to ``start + entries`` of a journal (one process's rows before its
    checkpoint); unreadable lines are skipped."""
    rows: list[tuple[int, dict]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for index, line in enumerate(f):
                if index >= start + entries:
                    break
                if index < start:
                    continue
                try:
                    item = json.loads(line)
                    rows.append((int(item["step"]), item["row"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
    except OSError:
        return []
    return rows


def rows_to_resend(state: dict, run: Any, step_metric: str) -> list[tuple[int, dict]]:
    """The journaled rows of ``state`` (a backend's ``state_dict`` at the checkpoint) that
    ``run``, the resumed W&B run, does not hold: those no earlier run file holds where the
    files can be read, otherwise those after the last ``step_metric`` value the resumed run's
    summary reports (W&B's public API)."""
    segments = state.get("segments", [])
    journaled = []
    for seg in segments:
        start, entries = int(seg.get("start", 0)), int(seg.get("entries", 0))
        journaled.extend(read_journal(seg["journal"], start, entries))
    run_files = [seg["run_file"] for seg in segments if seg.get("run_file")]
    if run_files and readable(run_files):
        # A killed run's W&B service may still be appending its last rows: read them after it.
        wait_until_settled(run_files)
        present = history_rows(run_files, step_metric)
        return [(step, row) for step, row in journaled if (step, frozenset(row)) not in present]
    reported = run.summary.get(step_metric)
    last = int(reported) if isinstance(reported, (int, float)) else -1
    return [(step, row) for step, row in journaled if step > last]
