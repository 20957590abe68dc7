"""SIGTERM to `torchrig train` on the digits config, mid-epoch: a checkpoint at that
iteration, exit status 143, the W&B run finished (its offline file ends with an exit record),
and `--resume` ends with the losses and weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.test_visualization._readers import read_wandb_run

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
STOP_AT = 20  # the digits' train split is 45 batches an epoch: mid-epoch 1


def _config(tmp_path: Path, work_dir: Path, pause_at: int) -> Path:
    config = tmp_path / f"{work_dir.name}.py"
    config.write_text(
        f"_base_ = [{str(REPO / 'configs/digits/digits_mlp_wandb.py')!r}]\n"
        "custom_imports = dict(imports=['torchrig.testing.digits', "
        "'tests.test_e2e._resume_job'], allow_failed_imports=False)\n"
        "train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)\n"
        f"custom_hooks = [dict(type='RecordLoss', path={str(work_dir / 'losses.txt')!r}, "
        f"pause_at={pause_at})]\n"
    )
    return config


def _train(config: Path, work_dir: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "SLURM_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        OMP_NUM_THREADS="1",
    )
    work_dir.mkdir(exist_ok=True)
    out = open(f"{work_dir}.out", "a")  # noqa: SIM115 - the child writes it; closed with it
    command = [sys.executable, "-m", "torchrig", "train", str(config), "--work-dir", str(work_dir)]
    return subprocess.Popen([*command, *args], cwd=REPO, env=env, stdout=out, stderr=out)


def _finish(process: subprocess.Popen, work_dir: Path, timeout: float = 240) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(Path(f"{work_dir}.out").read_text()[-3000:]) from None


def _losses(work_dir: Path) -> dict[int, str]:
    losses: dict[int, str] = {}
    for line in (work_dir / "losses.txt").read_text().splitlines():
        iteration, value = line.split()
        losses[int(iteration)] = value
    return losses


def test_sigterm_mid_epoch_checkpoints_closes_wandb_and_resumes_exactly(tmp_path):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    uninterrupted = _train(_config(tmp_path, whole, 0), whole)
    config = _config(tmp_path, stopped, STOP_AT)
    victim = _train(config, stopped)
    deadline = time.monotonic() + 240
    while not (stopped / "paused").exists():
        assert victim.poll() is None, Path(f"{stopped}.out").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached the iteration to stop at"
        time.sleep(0.05)
    victim.send_signal(signal.SIGTERM)  # while iteration 20's hooks run
    (stopped / "go").touch()
    code = _finish(victim, stopped)
    output = Path(f"{stopped}.out").read_text()
    assert code == 143, output[-3000:]
    assert "SIGTERM received: stopping after iteration 20" in output
    assert "torchrig train: training stopped by SIGTERM at iteration 20; resume from" in output

    checkpoint = stopped / f"iter_{STOP_AT}.pth"
    assert (stopped / "last_checkpoint").read_text() == str(checkpoint)
    meta = torch.load(checkpoint, weights_only=True)["meta"]
    assert (meta["epoch"], meta["iter"]) == (0, STOP_AT)
    assert max(_losses(stopped)) == STOP_AT
    run_files = list(stopped.glob("**/run-*.wandb"))
    assert len(run_files) == 1
    run = read_wandb_run(str(run_files[0]))
    assert run.exit_code == 143  # finished with the signal's status, not left "crashed"
    assert run.history and max(run.steps) <= STOP_AT

    (stopped / "paused").unlink()
    (stopped / "go").unlink()
    resumed = _train(config, stopped, "--resume")
    assert _finish(resumed, stopped) == 0, Path(f"{stopped}.out").read_text()[-3000:]
    assert _finish(uninterrupted, whole) == 0, Path(f"{whole}.out").read_text()[-3000:]
    assert _losses(stopped) == _losses(whole)
    expected = torch.load(whole / "epoch_1.pth", weights_only=True)["state_dict"]
    got = torch.load(stopped / "epoch_1.pth", weights_only=True)["state_dict"]
    assert expected.keys() == got.keys()
    assert all(torch.equal(value, got[key]) for key, value in expected.items())


def test_a_signal_on_one_rank_stops_every_rank_at_the_same_iteration(tmp_path):
    from tests.test_distributed.test_two_processes import _torchrun

    script = Path(__file__).with_name("_stop_two_ranks.py")
    code, output = _torchrun(str(script), str(tmp_path), cwd=tmp_path)
    assert code != 0, output[-4000:]  # the workers exited with 143: torchrun reports failure
    records = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["iteration"] for r in records] == [4, 4], output[-4000:]
    assert [r["code"] for r in records] == [143, 143]
    assert (
        records[0]["checkpoint"] == str(tmp_path / "iter_4.pth")
        and records[1]["checkpoint"] is None
    )
    assert torch.load(tmp_path / "iter_4.pth", weights_only=True)["meta"]["iter"] == 4
