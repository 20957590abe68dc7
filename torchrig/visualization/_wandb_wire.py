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
from typing import Any

__all__ = ["RowEncoder", "number_json", "proto_request"]


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


class RowEncoder:
    """Encodes history rows (``{key: int or float}``) as framed ``ServerRequest`` bytes.

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
        self._header = struct.Struct(getattr(service_client, "_HEADER_BYTE_INT_FMT", "<BI"))
        item = pb.HistoryItem.DESCRIPTOR
        partial = pb.PartialHistoryRequest.DESCRIPTOR
        self._key_tag = _tag(item, "key", 2)
        self._value_tag = _tag(item, "value_json", 2)
        self._item_tag = _tag(partial, "item", 2)
        self._step_tag = _tag(partial, "step", 2)
        self._num_tag = _tag(pb.HistoryStep.DESCRIPTOR, "num", 0)
        self._partial_tag = _tag(pb.Request.DESCRIPTOR, "partial_history", 2)
        self._request_tag = _tag(pb.Record.DESCRIPTOR, "request", 2)
        self._publish_tag = _tag(spb.ServerRequest.DESCRIPTOR, "record_publish", 2)
        # What _make_request and _assign add around the request: control.local, the stream id.
        tail = pb.Record()
        tail.control.local = True
        interface._assign(tail)
        self._record_tail = tail.SerializeToString()
        self._heads: dict[str, tuple[bytes, bytes, int]] = {}
        sample = {"loss": 0.25, "iter": 7, "lr": float("nan"), "étape/x": -3}
        now = time.time()
        built = proto_request(interface, 7, sample, now)
        mine = spb.ServerRequest.FromString(self.encode(7, sample, now)[self._header.size :])
        if mine != built:
            raise RuntimeError("W&B's history request layout is not the expected one")

    def _head(self, key: str) -> tuple[bytes, bytes, int]:
        # An item is: item tag, its length, key field, value tag, value length, value.
        raw = key.encode("utf-8")
        head = self._key_tag + _length(len(raw)) + raw + self._value_tag
        self._heads[key] = entry = (self._item_tag, head, len(head))
        return entry

    def encode(self, step: int, row: dict[str, int | float], now: float) -> bytes:
        """One framed request publishing ``row`` (numbers) at ``step``."""
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

    def send(self, frames: list[bytes]) -> None:
        """Write framed requests to wandb-core in one socket write (on W&B's event loop)."""
        interface = self._interface
        client = interface._client
        blob = b"".join(frames)

        async def write() -> None:
            broken = getattr(client, "_broken_exc", None)
            if broken is not None:
                raise broken
            client._writer.write(blob)
            await client._drain_writer()

        interface._asyncer.run(write)
