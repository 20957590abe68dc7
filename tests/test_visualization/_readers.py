"""Read back what the trackers wrote, for tests (W&B offline run files, TensorBoard events,
MLflow's store, the local backend's files). Other test packages may import these helpers."""

from __future__ import annotations

import glob
import json
import os.path as osp
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "WandbRun",
    "read_local_scalars",
    "read_mlflow_run",
    "read_finished_wandb_run",
    "read_tensorboard",
    "read_wandb_run",
    "wandb_run_files",
]


@dataclass
class WandbRun:
    """What one offline ``run-<id>.wandb`` file holds."""

    path: str
    run_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: Each artifact record in full: name, type, aliases, metadata, whether the run used it
    #: (``use_artifact``), and its manifest's files ``{path: reference or None}``.
    artifact_details: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    resumed: bool = False
    output: str = ""  # the console output W&B captured (its Logs tab after ``wandb sync``)

    @property
    def steps(self) -> list[int]:
        """The ``_step`` of each history row, in file order (W&B's row counter)."""
        return [row["_step"] for row in self.history]

    @property
    def iters(self) -> list[int | None]:
        """The ``iter`` of each history row (torchrig's x-axis), in file order."""
        return [row.get("iter") for row in self.history]


def _records(path: str) -> list[bytes]:
    """The records of W&B's LevelDB-style log (header ':W&B', 32 KiB blocks of chunks)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, out, pending = 7, [], b""
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0:
            pos += room
            continue
        payload = data[pos + 7 : pos + 7 + length]
        if len(payload) < length or zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            break
        pos += 7 + length
        if kind == 1:
            out.append(payload)
        elif kind == 2:
            pending = payload
        elif kind == 3:
            pending += payload
        elif kind == 4:
            out.append(pending + payload)
    return out


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if len(item.nested_key) else item.key


def _set_nested(target: dict, keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def _artifact_details(art: Any) -> dict[str, Any]:
    return {
        "name": art.name,
        "type": art.type,
        "aliases": list(art.aliases),
        "metadata": json.loads(art.metadata) if art.metadata else {},
        "used": bool(art.use_after_commit),
        "files": {e.path: (e.ref or None) for e in art.manifest.contents},
    }


def read_wandb_run(path: str) -> WandbRun:
    """Parse a ``run-<id>.wandb`` file into history rows, config, summary, files, exit code."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = WandbRun(path=path)
    for raw in _records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {_key(item): json.loads(item.value_json) for item in record.history.item}
            if record.history.HasField("step"):
                row["_step"] = record.history.step.num
            run.history.append(row)
        elif kind == "run":
            run.run_id = record.run.run_id
            run.resumed = run.resumed or bool(record.run.resumed)
            for item in record.run.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "summary":
            for item in record.summary.update:
                keys = list(item.nested_key) or [item.key]
                _set_nested(run.summary, keys, json.loads(item.value_json))
        elif kind == "files":
            run.files.extend(f.path for f in record.files.files)
        elif kind == "artifact":
            run.artifact_details.append(_artifact_details(record.artifact))
            run.artifacts.append(
                {
                    "name": record.artifact.name,
                    "type": record.artifact.type,
                    "aliases": list(record.artifact.aliases),
                }
            )
        elif kind == "request" and record.request.WhichOneof("request_type") == "log_artifact":
            art = record.request.log_artifact.artifact
            run.artifact_details.append(_artifact_details(art))
            run.artifacts.append({"name": art.name, "type": art.type, "aliases": list(art.aliases)})
        elif kind == "alert":
            alert = record.alert
            run.alerts.append({"title": alert.title, "text": alert.text, "level": alert.level})
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
        elif kind in ("output", "output_raw"):
            run.output += getattr(record, kind).line
    return run


def read_finished_wandb_run(path: str, timeout: float = 60.0) -> WandbRun:
    """:func:`read_wandb_run` once W&B's service has written the run's exit record
    (``Run.finish()`` returns before it has), or what the file holds after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        ready = osp.exists(path) and osp.getsize(path) >= 7  # W&B writes the header late
        run = read_wandb_run(path) if ready else WandbRun(path)
        if run.exit_code is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def wandb_run_files(save_dir: str, run_id: str | None = None) -> list[str]:
    """Every offline/online run file under ``save_dir/wandb`` (of ``run_id`` if given)."""
    pattern = f"run-{run_id}.wandb" if run_id else "run-*.wandb"
    found = glob.glob(osp.join(save_dir, "wandb", "*run-*", pattern))
    return sorted(p for p in found if "latest-run" not in p)


def read_tensorboard(log_dir: str) -> dict[str, Any]:
    """Scalars ``{tag: [(step, value), ...]}``, image tags and text tags of a log dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in tags["scalars"]}
    images = {tag: [e.step for e in acc.Images(tag)] for tag in tags["images"]}
    return {"scalars": scalars, "images": images, "tensors": list(tags["tensors"])}


def read_mlflow_run(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """Metrics ``{key: [(step, value), ...]}``, params, tags and artifact paths of a run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    metrics = {
        key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
    }

    def walk(path: str | None = None) -> list[str]:
        out = []
        for info in client.list_artifacts(run_id, path):
            out.extend(walk(info.path) if info.is_dir else [info.path])
        return out

    return {
        "metrics": metrics,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "artifacts": walk(),
        "status": run.info.status,
    }


def read_local_scalars(path: str) -> list[dict[str, Any]]:
    """The JSON lines of a local backend's scalars.json."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
