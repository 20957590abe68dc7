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


_UNREACHABLE_SCRIPT = """
import sys
from torchrig.runner import Runner
from torchrig.testing import ToyDataset, ToyModel

work_dir, uri = sys.argv[1], sys.argv[2]
runner = Runner(
    model=ToyModel(),
    work_dir=work_dir,
    train_dataloader=dict(
        dataset=ToyDataset(), sampler=dict(type="DefaultSampler", shuffle=False), batch_size=2
    ),
    optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
    train_cfg=dict(by_epoch=True, max_epochs=2),
    default_hooks=dict(
        checkpoint=dict(type="CheckpointHook", interval=1),
        logger=dict(type="LoggerHook", interval=1),
    ),
    visualizer=dict(
        type="Visualizer",
        vis_backends=[dict(type="LocalVisBackend"), dict(type="MLflowVisBackend", tracking_uri=uri)],
        flush_timeout=1.0,
        close_timeout=1.0,
    ),
)
runner.train()
print("TRAINED", runner.log_dir)
"""


def test_an_unreachable_tracking_server_does_not_hold_training_up(tmp_path):
    # MLflow retries a refused connection for minutes; each checkpoint waits for the queues
    # at most flush_timeout, and the local backend keeps every value.
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(
        [sys.executable, "-c", _UNREACHABLE_SCRIPT, str(tmp_path), f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # MLflow's own retries take about 4 minutes
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log_dir = done.stdout.split("TRAINED ", 1)[1].strip()
    assert (tmp_path / "epoch_1.pth").exists() and (tmp_path / "epoch_2.pth").exists()
    with open(os.path.join(log_dir, "vis_data", "scalars.json"), encoding="utf-8") as f:
        steps = [json.loads(line)["step"] for line in f if '"loss"' in line]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 2
