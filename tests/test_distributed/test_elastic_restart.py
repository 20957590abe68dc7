"""``torchrun --nproc-per-node 2 --max-restarts 1`` with rank 1 raising once, at iteration 25
of the first attempt: torchrun restarts both workers, torchrig resumes from the iteration-20
checkpoint by itself, into the same W&B run, and ends with an uninterrupted run's weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.test_distributed._launch import torchrun


def _wandb_runs(work: Path) -> list[str]:
    return sorted(p.name for p in work.rglob("offline-run-*") if p.is_dir())


def test_restarted_job_resumes_and_equals_an_uninterrupted_one(tmp_path):
    plain, restarted = tmp_path / "plain", tmp_path / "restarted"
    plain.mkdir(), restarted.mkdir()
    code, output = torchrun(2, "train_fault.py", str(plain), "plain", cwd=plain)
    assert code == 0, output[-6000:]
    code, output = torchrun(
        2, "train_fault.py", str(restarted), "fail_once", cwd=restarted, max_restarts="1"
    )
    assert code == 0, output[-6000:]
    assert (restarted / "failed").exists()  # the first attempt did fail
    assert "planned failure of rank 1 at iteration 25" in output
    assert "torchrun restart 1: resuming from" in output and "iter_20.pth" in output

    got = torch.load(restarted / "final.pth", weights_only=True)
    expected = torch.load(plain / "final.pth", weights_only=True)
    assert all(torch.equal(got[key], expected[key]) for key in expected)
    metrics = json.loads((restarted / "metrics.json").read_text())
    assert metrics == json.loads((plain / "metrics.json").read_text())

    # one W&B run: the restarted attempt continues the first attempt's run id
    runs = _wandb_runs(restarted / "work")
    assert len(runs) == 2, runs  # a run directory per attempt ...
    assert len({name.rsplit("-", 1)[-1] for name in runs}) == 1, runs  # ... of one run id
    assert len(_wandb_runs(plain / "work")) == 1
    checkpoints = sorted(p.name for p in (restarted / "work").glob("*.pth"))
    assert checkpoints == [f"iter_{i}.pth" for i in (10, 20, 30, 40)]
