"""History rows to wandb-core as wire bytes: what ``wandb.log`` sends, at a fraction of the CPU.

``wandb.log`` builds, per row, a ``PartialHistoryRequest`` inside a ``Record`` inside a
``ServerRequest`` with protobuf's Python API, copies it twice, serializes it and writes it to
wandb-core's socket from W&B's event-loop thread (two socket writes a row). For a row of
numbers, :class:`RowEncoder` writes the same bytes directly: per key a cached prefix, per value
its JSON text, and the nested lengths; a batch of rows then goes out in one socket write.

Field numbers come from W&B's own descriptors, and the first row encoded is checked against the
message protobuf builds; any difference (a W&B version that sends rows differently) makes the
encoder refuse, and the backend falls back to protobuf's API.
"""

from __future__ import annotations

import json
import struct
import time
from math import isfinite
from typing import Any, NamedTuple

from torchrig.visualization._wandb_store import journal_line

__all__ = ["RowCodec", "RowEncoder", "number_json", "proto_request"]


def number_json(value: int | float) -> str:
    """What ``json.dumps`` writes for an ``int`` or ``float`` (``NaN``, ``Infinity``...)."""
    text = float.__repr__(value) if type(value) is float else int.__repr__(value)
    return json.dumps(value) if text[-1] in "nf" else text


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return bytes((value,))
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64: ten bytes, two's complement
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


_SHORT = [_varint(value) for value in range(1 << 12)]  # the lengths a row's parts have


def _length(value: int) -> bytes:
    return _SHORT[value] if value < 4096 else _varint(value)


def _tag(descriptor: Any, name: str, wire_type: int) -> bytes:
    return _varint(descriptor.fields_by_name[name].number << 3 | wire_type)


_NUMBER_TYPES = frozenset((int, float))


def _text(raw: bytes) -> str:
    """Bytes as a ``str`` of the same length (latin-1): a row is put together as text and
    encoded once."""
    return raw.decode("latin-1")


_SHORT_TEXT = [_text(value) for value in _SHORT]


def _length_text(value: int) -> str:
    return _SHORT_TEXT[value] if value < 4096 else _text(_varint(value))


_TAGS = (
    "key_tag",
    "value_tag",
    "item_tag",
    "step_tag",
    "num_tag",
    "partial_tag",
    "request_tag",
    "publish_tag",
)


class _RowPlan(NamedTuple):
    """How rows with one tuple of keys are encoded in one formatting step (see
    :meth:`RowEncoder.encode`)."""

    reprs: str  # "%r,%r,...": the JSON text of each value and of the timestamp
    bases: tuple[int, ...]  # per item: its head's size + 1 (the value's length byte)
    template: str  # the items: "%c" for the lengths, "%s" for the values' text
    journal: str  # the row's journal line (see journal_line), "%s" for the values' text


def proto_request(interface: Any, step: int, row: dict[str, int | float], now: float) -> Any:
    """The ``ServerRequest`` that publishes one history row, built with protobuf's API."""
    from wandb.proto import wandb_internal_pb2 as pb
    from wandb.proto import wandb_server_pb2 as spb

    partial = pb.PartialHistoryRequest()
    for key, value in row.items():
        item = partial.item.add()
        item.key = key
        item.value_json = number_json(value)
    item = partial.item.add()
    item.key = "_timestamp"
    item.value_json = repr(now)
    partial.step.num = step
    record = interface._make_request(partial_history=partial)
    interface._assign(record)
    request = spb.ServerRequest()
    request.record_publish.CopyFrom(record)
    return request


class RowCodec:
    """Encodes history rows (``{key: int or float}``) as framed ``ServerRequest`` bytes, from
    the field tags and the record's tail alone (no ``wandb`` import: the format server's
    process uses it too).

    Args:
        constants: :meth:`RowEncoder.constants` of a run.
    """

    def __init__(self, constants: dict[str, Any]) -> None:
        self._header = struct.Struct(constants["header"])
        for name in _TAGS:
            setattr(self, f"_{name}", constants[name])
        self._record_tail = constants["record_tail"]
        self._heads: dict[str, tuple[bytes, bytes, int]] = {}
        self._plans: dict[tuple, _RowPlan | None] = {}
        self._outer = tuple(
            _text(tag) for tag in (self._partial_tag, self._request_tag, self._publish_tag)
        )
        self._record_tail_text = _text(self._record_tail)
        self._step_text = _text(self._step_tag)

    def constants(self) -> dict[str, Any]:
        """What a :class:`RowCodec` is built from (plain bytes and str: marshal-able)."""
        values = {name: getattr(self, f"_{name}") for name in _TAGS}
        return dict(values, header=self._header.format, record_tail=self._record_tail)

    def _head(self, key: str) -> tuple[bytes, bytes, int]:
        # An item is: item tag, its length, key field, value tag, value length, value.
        raw = key.encode("utf-8")
        head = self._key_tag + _length(len(raw)) + raw + self._value_tag
        self._heads[key] = entry = (self._item_tag, head, len(head))
        return entry

    def _plan(self, keys: tuple) -> _RowPlan | None:
        """The plan of rows with ``keys`` (None where a length needs two bytes)."""
        bases, items = [], []
        for key in (*keys, "_timestamp"):
            tag, head, head_size = self._heads.get(key) or self._head(key)
            if head_size + 1 + 32 >= 0x80:  # a long key: its item's length may need 2 bytes
                bases = None
                break
            bases.append(head_size + 1)
            items.append(_text(tag) + "%c" + _text(head).replace("%", "%%") + "%c%s")
        plan = None
        if bases is not None:
            # journal_line's text of the row, with its values' text left to fill in.
            fields = ", ".join(json.dumps(key).replace("%", "%%") + ": %s" for key in keys)
            journal = '{"step": %d, "row": {' + fields + "}}\n"
            plan = _RowPlan(",".join(["%r"] * len(bases)), tuple(bases), "".join(items), journal)
        if len(self._plans) < 256:
            self._plans[keys] = plan
        return plan

    def encode(
        self, step: int, row: dict[str, int | float], now: float, lines: list | None = None
    ) -> bytes:
        """One framed request publishing ``row`` (numbers) at ``step``; with ``lines``, the
        row's :func:`journal_line` is appended to it (made from the same text of the values).

        A row of finite ``int``/``float`` values whose keys were seen before is put together
        from its keys' plan: the values' text in one formatting step, then the items in
        another (the same bytes as the general path, item by item)."""
        keys = tuple(row)
        plan = self._plans.get(keys, False)
        if plan is False:
            plan = self._plan(keys)
        values = (*row.values(), now)
        if plan is not None and _NUMBER_TYPES.issuperset(map(type, values)):
            try:
                finite = isfinite(sum(values))
            except OverflowError:
                finite = False
            texts = (plan.reprs % values).split(",") if finite else ()
            if finite and max(map(len, texts)) <= 32:
                if lines is not None:  # (the timestamp, last, is not journaled)
                    lines.append(plan.journal % (step, *texts[:-1]))
                args = []
                for base, text in zip(plan.bases, texts):
                    size = len(text)
                    args += (base + size, size, text)
                num = self._num_tag + _varint(step)
                partial = (
                    plan.template % tuple(args)
                    + self._step_text
                    + _SHORT_TEXT[len(num)]
                    + _text(num)
                )
                partial_tag, request_tag, publish_tag = self._outer
                request = partial_tag + _length_text(len(partial)) + partial
                record = request_tag + _length_text(len(request)) + request + self._record_tail_text
                message = (publish_tag + _length_text(len(record)) + record).encode("latin-1")
                return self._header.pack(87, len(message)) + message  # 87: ord("W")
        if lines is not None:
            lines.append(journal_line(step, row))
        heads, short, parts = self._heads, _SHORT, []
        append = parts.append
        for key, value in row.items():
            text = float.__repr__(value) if type(value) is float else int.__repr__(value)
            if text[-1] in "nf":
                text = json.dumps(value)
            raw = text.encode()
            size = len(raw)
            tag, head, head_size = heads.get(key) or self._head(key)
            if size < 0x80 and head_size < 4000:
                append(tag + short[head_size + 1 + size] + head + short[size] + raw)
            else:
                body = head + _length(size) + raw
                append(tag + _length(len(body)) + body)
        raw = float.__repr__(now).encode()
        tag, head, head_size = heads.get("_timestamp") or self._head("_timestamp")
        append(tag + short[head_size + 1 + len(raw)] + head + short[len(raw)] + raw)
        num = self._num_tag + _varint(step)
        append(self._step_tag + short[len(num)] + num)
        partial = b"".join(parts)
        request = self._partial_tag + _length(len(partial)) + partial
        record = self._request_tag + _length(len(request)) + request + self._record_tail
        message = self._publish_tag + _length(len(record)) + record
        return self._header.pack(87, len(message)) + message  # 87: ord("W")


class RowEncoder(RowCodec):
    """A :class:`RowCodec` for one run, and the sending of its frames to wandb-core.

    Args:
        interface: The run's ``_interface`` (wandb-core's socket interface).

    Raises:
        RuntimeError: The bytes differ from what protobuf builds for a sample row.
    """

    def __init__(self, interface: Any) -> None:
        from wandb.proto import wandb_internal_pb2 as pb
        from wandb.proto import wandb_server_pb2 as spb
        from wandb.sdk.lib.service import service_client

        self._interface = interface
        item = pb.HistoryItem.DESCRIPTOR
        partial = pb.PartialHistoryRequest.DESCRIPTOR
        # What _make_request and _assign add around the request: control.local, the stream id.
        tail = pb.Record()
        tail.control.local = True
        interface._assign(tail)
        super().__init__(
            dict(
                header=getattr(service_client, "_HEADER_BYTE_INT_FMT", "<BI"),
                key_tag=_tag(item, "key", 2),
                value_tag=_tag(item, "value_json", 2),
                item_tag=_tag(partial, "item", 2),
                step_tag=_tag(partial, "step", 2),
                num_tag=_tag(pb.HistoryStep.DESCRIPTOR, "num", 0),
                partial_tag=_tag(pb.Request.DESCRIPTOR, "partial_history", 2),
                request_tag=_tag(pb.Record.DESCRIPTOR, "request", 2),
                publish_tag=_tag(spb.ServerRequest.DESCRIPTOR, "record_publish", 2),
                record_tail=tail.SerializeToString(),
            )
        )
        now = time.time()
        # A row with NaN (the general path), then one twice (the second from its plan).
        samples = [{"loss": 0.25, "iter": 7, "lr": float("nan"), "étape/x": -3}]
        samples += [{"loss": 0.25, "iter": 7, "lr": 1e-3, "étape/x": -3, "n": 10**30}] * 2
        for sample in samples:
            built = proto_request(interface, 7, sample, now)
            mine = spb.ServerRequest.FromString(self.encode(7, sample, now)[self._header.size :])
            if mine != built:
                raise RuntimeError("W&B's history request layout is not the expected one")

    def send(self, frames: list[bytes] | bytes) -> None:
        """Write framed requests (a list, or already joined) to wandb-core in one socket
        write (on W&B's event loop)."""
        interface = self._interface
        client = interface._client
        blob = frames if isinstance(frames, bytes) else b"".join(frames)

        async def write() -> None:
            broken = getattr(client, "_broken_exc", None)
            if broken is not None:
                raise broken
            client._writer.write(blob)
            await client._drain_writer()

        interface._asyncer.run(write)
