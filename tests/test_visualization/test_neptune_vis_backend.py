"""NeptuneVisBackend against the real neptune package in offline mode, read back from its log."""

from __future__ import annotations

import glob
import json
import os.path as osp

import numpy as np
import pytest

from tests.test_visualization._digits_run import train_digits
from torchrig.visualization import NeptuneVisBackend

pytest.importorskip("neptune")

_OFFLINE = dict(mode="offline", project="torchrig/tests")


def _read_offline_run(cwd) -> list[dict]:
    """The operations Neptune queued for the one offline run under ``cwd/.neptune``."""
    (run_dir,) = glob.glob(osp.join(str(cwd), ".neptune", "offline", "run__*"))
    operations = []
    for path in sorted(glob.glob(osp.join(run_dir, "data-*.log"))):
        with open(path) as f:
            operations.extend(json.loads(line)["obj"] for line in f if line.strip())
    return operations


def _series(operations: list[dict]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for op in operations:
        if op["type"] == "LogFloats" and op["path"][0] != "monitoring":
            key = "/".join(op["path"])
            out.setdefault(key, []).extend((int(v["step"]), v["value"]) for v in op["values"])
    return out


def _assigned(operations: list[dict]) -> dict[str, object]:
    return {"/".join(op["path"]): op.get("value") for op in operations if "value" in op}


def test_scalars_images_and_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = NeptuneVisBackend(str(tmp_path / "vis_data"), init_kwargs=_OFFLINE)
    backend.add_config({"optim": {"lr": 0.1}}, env={"python": "3.11"})
    for it in (1, 2, 3):
        backend.add_scalars({"train/loss": 1.0 / it, "note": "not a number"}, step=it)
    backend.add_image("pred", np.full((4, 5, 3), 7, np.uint8), step=3)
    assert backend.state_dict() == {}  # an offline run has no id to continue
    backend.close()

    operations = _read_offline_run(tmp_path)
    assert _series(operations)["train/loss"] == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert "note" not in _series(operations)
    assigned = _assigned(operations)
    assert assigned["config/optim/lr"] == 0.1
    assert assigned["environment/python"] == "3.11"
    assert any(op["type"] == "LogImages" and op["path"] == ["pred"] for op in operations)


def test_a_runner_logs_loss_and_validation_on_the_iteration_axis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_digits(str(tmp_path / "work"), [dict(type="NeptuneVisBackend", init_kwargs=_OFFLINE)])
    operations = _read_offline_run(tmp_path)
    series = _series(operations)
    assert [step for step, _ in series["loss"]] == list(range(5, 46, 5))
    assert [step for step, _ in series["accuracy/top1"]] == [45]
    assert _assigned(operations)["config/model/type"] == "DigitsClassifier"
