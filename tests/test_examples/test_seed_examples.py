"""The seed's first and second examples, run as the scripts users would copy."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run_example(name: str, cwd: Path):
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true")
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_seed_visualizer_example_writes_an_offline_wandb_run(tmp_path):
    result = _run_example("seed_visualizer.py", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "runs" / "wandb").rglob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))


def test_seed_gan_runner_example_trains_and_tracks(tmp_path):
    result = _run_example("seed_gan_runner.py", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    work_dir = tmp_path / "runs" / "gan"
    assert (work_dir / "epoch_5.pth").exists() or list(work_dir.glob("*.pth"))
    runs = list((tmp_path / "runs" / "wandb").rglob("offline-run-*"))
    assert len(runs) == 1
