"""The row-formatting process: the same text and bytes as formatting in place, a dead process
reported once and replaced by formatting in place, and the backends' large batches through it
landing in their files and in the W&B run."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from tests.test_visualization._readers import read_wandb_run, wandb_run_files
from torchrig.visualization import LocalVisBackend, WandbVisBackend
from torchrig.visualization import _format_server as fs
from torchrig.visualization._wandb_store import read_journal
from torchrig.visualization._wandb_wire import RowCodec

# Tags of a made-up message layout: the codec only puts bytes together.
_CONSTANTS = dict(
    header="<BI",
    key_tag=b"\x0a",
    value_tag=b"\x82\x01",
    item_tag=b"\x0a",
    step_tag=b"\x12",
    num_tag=b"\x08",
    partial_tag=b"\xaa\x02",
    request_tag=b"\x9a\x01",
    publish_tag=b"\x0a",
    record_tail=b"\xc2\x3e\x02\x08\x01",
)


def _rows(count: int, start: int = 1) -> list[dict]:
    return [
        {"loss": 1.0 / step, "lr": 0.1, "nan": float("nan") if step % 7 == 0 else 0.5, "iter": step}
        for step in range(start, start + count)
    ]


@pytest.fixture
def server():
    server = fs.FormatServer()
    yield server
    server.close()


def test_the_process_formats_as_in_place(server):
    records = _rows(100)
    assert server.call("json", records) == fs.format_json_lines(records)
    rows = [(row["iter"], row, row["iter"] % 3 != 0) for row in records]
    assert server.call("wandb", _CONSTANTS, rows, 1.5e9) == fs.format_wandb_rows(
        RowCodec(_CONSTANTS), rows, 1.5e9
    )
    text = fs.format_wandb_rows(_CONSTANTS, rows, 1.5e9)[1]
    assert [json.loads(line)["step"] for line in text.splitlines()] == [
        step for step, _, journal in rows if journal
    ]


def test_a_dead_process_is_reported_once_then_rows_are_formatted_in_place(server):
    assert server.call("json", _rows(2)) is not None
    server._process.kill()
    server._process.wait()
    with pytest.warns(RuntimeWarning, match="row-formatting process failed .*exit code"):
        assert server.call("json", _rows(2)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert server.call("json", _rows(2)) is None  # no second report
    assert server.failed and server._process is None


def test_local_backend_large_batches_through_the_process(tmp_path, monkeypatch):
    lines = {}
    for way in ("process", "in place"):
        if way == "in place":
            monkeypatch.setattr(fs.SERVER, "failed", True)
        backend = LocalVisBackend(str(tmp_path / way.replace(" ", "_")))
        calls = [((row,), {"step": row["iter"], "file_path": "extra.json"}) for row in _rows(150)]
        backend.add_scalars_batch(calls)
        backend.add_scalars({"text": "a"}, step=151)  # not numbers: after the batch
        backend.add_scalars_batch(calls[:3])
        assert fs.SERVER.failed == (way == "in place")
        backend.close()
        save_dir = backend._save_dir
        with open(os.path.join(save_dir, "scalars.json"), encoding="utf-8") as f:
            scalars = f.read()
        with open(os.path.join(save_dir, "extra.json"), encoding="utf-8") as f:
            lines[way] = (scalars, f.read())
    assert lines["process"] == lines["in place"]
    scalars = [json.loads(line) for line in lines["process"][0].splitlines()]
    assert [row["step"] for row in scalars] == [*range(1, 152), 1, 2, 3]
    assert scalars[149] == {**_rows(1, 150)[0], "step": 150} and scalars[150]["text"] == "a"
    assert lines["process"][1].count("\n") == 153  # every row with that file_path


def test_wandb_large_batch_through_the_process_lands_once(wandb_offline):
    save_dir = str(wandb_offline / "e")
    backend = WandbVisBackend(save_dir)
    run_id = backend.experiment.id
    backend.add_scalars_batch([((row,), {"step": row["iter"]}) for row in _rows(200)])
    backend.after_batch()
    assert not fs.SERVER.failed and fs.SERVER._process is not None
    backend.flush()
    assert [step for step, _ in read_journal(backend._journal.path, 0, 1000)] == list(range(1, 201))
    backend.close()
    (path,) = wandb_run_files(save_dir, run_id)
    history = read_wandb_run(path).history
    assert [row["_step"] for row in history] == list(range(1, 201))
    assert history[99]["loss"] == 1.0 / 100 and history[6]["nan"] != history[6]["nan"]
