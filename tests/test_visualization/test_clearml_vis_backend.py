"""ClearMLVisBackend against the real clearml package in offline mode, read back from its session."""

from __future__ import annotations

import glob
import json
import os.path as osp

import numpy as np
import pytest

from tests.test_visualization._digits_run import train_digits
from torchrig.visualization import ClearMLVisBackend

clearml = pytest.importorskip("clearml")

# No framework hooks, resource monitor or repository detection: what the tests read does not need them.
_QUICK = dict(
    project_name="p",
    task_name="t",
    auto_connect_frameworks={
        key: False
        for key in (
            "matplotlib tensorflow tensorboard pytorch xgboost scikit fastai lightgbm hydra "
            "detect_repository tfdefines joblib megengine catboost gradio"
        ).split()
    },
    auto_resource_monitoring=False,
    auto_connect_streams=False,
    auto_connect_arg_parser=False,
)


@pytest.fixture
def offline_clearml(tmp_path, monkeypatch):
    """ClearML in offline mode, its cache (where offline sessions go) inside tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    clearml.Task.set_offline(offline_mode=True)  # the environment variable is read at import
    return tmp_path / "home" / ".clearml" / "cache" / "offline"


def _read_session(offline_dir) -> tuple[dict, list[dict]]:
    (session,) = [p for p in glob.glob(str(offline_dir / "*")) if osp.isdir(p)]
    with open(osp.join(session, "task.json")) as f:
        task = json.load(f)
    events: list[dict] = []
    with open(osp.join(session, "metrics.jsonl")) as f:
        for line in f:
            events.extend(json.loads(line))
    return task, events


def _scalars(events: list[dict]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for event in events:
        if event["type"] == "training_stats_scalar":
            out.setdefault(event["metric"], []).append((event["iter"], event["value"]))
    return out


def test_scalars_images_config_and_artifacts(tmp_path, offline_clearml):
    log_dir = tmp_path / "20260101_000000"
    (log_dir / "vis_data").mkdir(parents=True)
    (log_dir / "config.py").write_text("lr = 0.1\n")
    backend = ClearMLVisBackend(
        str(log_dir / "vis_data"), init_kwargs=_QUICK
    )
    backend.add_config({"optim": {"lr": 0.1}}, env={"python": "3.11"})
    for it in (1, 2, 3):
        backend.add_scalars({"loss": 1.0 / it, "note": "not a number"}, step=it)
    backend.add_image("pred", np.full((4, 5, 3), 7, np.uint8), step=3)
    assert backend.state_dict()["task_id"].startswith("offline-")
    backend.close()

    task, events = _read_session(offline_clearml)
    assert _scalars(events) == {"loss": [(1, 1.0), (2, 0.5), (3, 1 / 3)]}
    assert any(e["type"] == "training_debug_image" and e["iter"] == 3 for e in events)
    config = task["configuration"]
    assert "lr = 0.1" in config["config"]["value"].replace(" ", " ")
    assert "python" in config["environment"]["value"]
    assert "config.py" in json.dumps(task)  # the log directory's .py file, as an artifact


def test_a_runner_logs_loss_and_validation_on_the_iteration_axis(tmp_path, offline_clearml):
    train_digits(str(tmp_path / "work"), [dict(type="ClearMLVisBackend", init_kwargs=_QUICK)])
    task, events = _read_session(offline_clearml)
    scalars = _scalars(events)
    assert [step for step, _ in scalars["loss"]] == list(range(5, 46, 5))
    assert [step for step, _ in scalars["accuracy/top1"]] == [45]
    assert "DigitsClassifier" in task["configuration"]["config"]["value"]
