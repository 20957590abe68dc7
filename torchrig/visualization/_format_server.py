"""A helper process that turns batches of scalar rows into the text and bytes trackers write.

A training process that logs every iteration spends, per row, several microseconds of Python
in each backend's writer thread: the JSON line of the local backend, the W&B wire bytes and
journal line. That Python holds the interpreter lock, so it adds to the training thread's
time. The writer threads hand large batches to this process instead (one request and one reply
a batch, while waiting they hold no lock) and write what comes back: the formatting runs on
another core. Small batches (a slow training, a test) are formatted in place and never start
the process.

The server only formats: the files, the journal and the W&B socket stay with the backends in
the training process, so ordering, flushing and durability are as without it. If the process
cannot start or dies, the backends format in place from then on (reported once).

Protocol: each message is a 4-byte little-endian length and a ``marshal`` payload.
"""

from __future__ import annotations

import atexit
import marshal
import os
import struct
import subprocess
import sys
import threading
from typing import IO, Any

__all__ = ["FormatServer", "format_json_lines", "format_wandb_rows", "serve"]

_LENGTH = struct.Struct("<I")
MIN_ROWS = 64  # batches smaller than this are formatted in the training process


def _write_message(stream: IO[bytes], obj: Any) -> None:
    data = marshal.dumps(obj)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            raise EOFError("the format server's pipe closed")
        data += more
    return data


def _read_message(stream: IO[bytes]) -> Any:
    (size,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
    return marshal.loads(_read_exactly(stream, size))


def format_json_lines(records: list[dict]) -> list[str]:
    """The local backend's line (``dumps_flat`` and a newline) of each record."""
    from torchrig.visualization._values import dumps_flat

    return [dumps_flat(record) + "\n" for record in records]


_CODECS: dict[tuple, Any] = {}


def format_wandb_rows(
    codec: Any, rows: list[tuple[int, dict, bool]], now: float
) -> tuple[bytes, str, int]:
    """W&B's frames of ``rows`` (``(step, row, journal it)``), with the journal lines of those
    to journal: ``(frames, journal text, journal lines)``. ``codec``: a ``RowCodec`` or its
    ``constants()``."""
    if isinstance(codec, dict):
        from torchrig.visualization._wandb_wire import RowCodec

        key = tuple(sorted(codec.items()))
        if key not in _CODECS:
            _CODECS[key] = RowCodec(codec)
        codec = _CODECS[key]
    lines: list[str] = []
    encode = codec.encode
    frames = b"".join(
        [encode(step, row, now, lines if journal else None) for step, row, journal in rows]
    )
    return frames, "".join(lines), len(lines)


_HANDLERS = {"json": format_json_lines, "wandb": format_wandb_rows}


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer ``(kind, *args)`` requests until the other end closes the pipe; a request that
    fails is answered ``("error", message)``."""
    while True:
        try:
            kind, *args = _read_message(requests)
        except EOFError:
            return
        try:
            reply: Any = ("ok", _HANDLERS[kind](*args))
        except Exception as err:  # noqa: BLE001 - the caller formats in place instead
            reply = ("error", f"{type(err).__name__}: {err}")
        _write_message(replies, reply)


class FormatServer:
    """The training process's side: starts the helper process on first use and sends it
    requests (one at a time; writer threads share it).

    A failure (the process cannot start, dies, or answers an error) is reported once and
    :meth:`call` returns None from then on: the caller formats in place.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.failed = False

    def call(self, kind: str, *args: Any) -> Any:
        """The server's answer to ``(kind, *args)``, or None (then format in place)."""
        if self.failed or os.getpid() != self._pid:  # a forked child formats in place
            return None
        with self._lock:
            try:
                process = self._process or self._start()
                _write_message(process.stdin, (kind, *args))
                status, value = _read_message(process.stdout)
            except (OSError, EOFError, ValueError) as err:
                code = self._process.poll() if self._process is not None else None
                ended = "" if code is None else f"; it ended with exit code {code}"
                self._fail(f"{type(err).__name__}: {err}{ended}")
                return None
            if status != "ok":
                self._fail(value)
                return None
            return value

    def _start(self) -> subprocess.Popen:
        import torchrig

        # The same torchrig as this process's, wherever it was imported from.
        root = os.path.dirname(os.path.dirname(os.path.abspath(torchrig.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from torchrig.visualization._format_server import main; main()",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._process = process
        atexit.register(self.close)
        return process

    def _fail(self, message: str) -> None:
        self.failed = True
        self.close()
        from torchrig.visualization._writer import report

        report(
            f"Visualizer: the row-formatting process failed ({message}); rows are formatted "
            "in the training process from now on (nothing is lost)"
        )

    def close(self) -> None:
        """Stop the helper process (it ends when its input closes)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - it is only a helper: make sure it is gone
            process.kill()
            process.wait()
        finally:
            process.stdout.close()


SERVER = FormatServer()


def main() -> None:
    """The helper process: serve requests on stdin, reply on (what was) stdout."""
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not reach the pipe
    serve(requests, replies)
