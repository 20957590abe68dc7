"""MLflowVisBackend on a local SQLite store, read back with MlflowClient."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_visualization._readers import read_mlflow_run
from torchrig.visualization import MLflowVisBackend

pytest.importorskip("mlflow")


def test_metrics_params_artifacts_and_resume(tmp_path):
    save_dir = tmp_path / "log" / "vis_data"
    backend = MLflowVisBackend(str(save_dir), exp_name="exp", run_name="r1", tags={"team": "a"}, params={"seed": 1},
                               tracked_config_keys=["model", "lr"])  # fmt: skip
    backend.add_config(
        {"model": {"type": "MLP", "depth": 3}, "lr": 0.1, "work_dir": "/x"},
        env={"git_commit": "abc"},
    )
    for it in range(1, 6):
        backend.add_scalars({"loss": 1.0 / it, "epoch": 0}, step=it)
    backend.add_image("pred", np.zeros((4, 4, 3), np.uint8), step=5)
    backend.flush()
    state = json.loads(json.dumps(backend.state_dict()))
    backend.close()
    assert state["tracking_uri"] == f"sqlite:///{save_dir}/mlflow.db"

    resumed = MLflowVisBackend(str(tmp_path / "other"))
    resumed.load_state_dict(state)
    resumed.add_config({"model": {"type": "MLP", "depth": 3}, "lr": 0.1})
    resumed.add_scalars({"loss": 0.1}, step=6)
    resumed.close(exit_code=1)

    run = read_mlflow_run(state["tracking_uri"], state["run_id"])
    assert [step for step, _ in run["metrics"]["loss"]] == [1, 2, 3, 4, 5, 6]
    assert run["params"] == {"seed": "1", "model.type": "MLP", "model.depth": "3", "lr": "0.1"}
    assert run["tags"]["team"] == "a" and run["tags"]["mlflow.runName"] == "r1"
    assert run["tags"]["mlflow.source.git.commit"] == "abc"
    assert {"config.py", "environment.json", "images/pred_5.png"} <= set(run["artifacts"])
    assert run["status"] == "FAILED"
    assert (save_dir / "mlartifacts").is_dir()  # artifacts under save_dir, not ./mlruns
