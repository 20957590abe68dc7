"""DVCLiveVisBackend against the real dvclive package, read back from the files it writes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from tests.test_visualization._digits_run import train_digits
from torchrig.visualization import DVCLiveVisBackend

pytest.importorskip("dvclive")


def _metric(live_dir, key: str) -> list[tuple[int, float]]:
    path = live_dir / "plots" / "metrics" / f"{key}.tsv"
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    name = key.rsplit("/", 1)[-1]
    return [(int(row["step"]), float(row[name])) for row in rows]


def test_scalars_images_params_artifacts_and_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # DVCLive looks for a DVC repository from the working directory
    log_dir = tmp_path / "20260101_000000"
    live_dir = log_dir / "vis_data"
    (log_dir / "config.py").parent.mkdir(parents=True)
    (log_dir / "config.py").write_text("lr = 0.1\n")
    first = DVCLiveVisBackend(str(live_dir))
    first.add_config({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}})
    for it in (1, 2, 3):
        first.add_scalars({"train/loss": 1.0 / it, "note": "not a number"}, step=it)
    first.add_image("pred", np.full((4, 5, 3), 7, np.uint8), step=3)
    state = json.loads(json.dumps(first.state_dict()))
    first.close()

    resumed = DVCLiveVisBackend(str(tmp_path / "elsewhere"))
    resumed.load_state_dict(state)
    resumed.add_scalars({"train/loss": 0.25}, step=4)
    resumed.close()

    assert _metric(live_dir, "train/loss") == [(1, 1.0), (2, 0.5), (3, 1 / 3), (4, 0.25)]
    assert not (live_dir / "plots" / "metrics" / "note.tsv").exists()
    params = yaml.safe_load((live_dir / "params.yaml").read_text())
    assert params["optim.lr"] == 0.1 and params["optim.betas"] == "[0.9, 0.99]"
    assert (live_dir / "plots" / "images" / "pred_3.png").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_a_runner_logs_loss_and_validation_on_the_iteration_axis(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = train_digits(str(tmp_path / "work"), [dict(type="DVCLiveVisBackend")])
    live_dir = tmp_path / "work" / runner.timestamp / "vis_data"
    assert [step for step, _ in _metric(live_dir, "loss")] == list(range(5, 46, 5))
    assert [step for step, _ in _metric(live_dir, "accuracy/top1")] == [45]
    params = yaml.safe_load((live_dir / "params.yaml").read_text())
    assert params["model.type"] == "DigitsClassifier"
