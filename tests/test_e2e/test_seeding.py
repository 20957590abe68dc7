"""Seeded means repeatable: two fresh processes with one seed, the model built from its config
inside the Runner, train to the same losses and weights, bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("_resume_job.py")


def test_two_fresh_processes_with_one_seed_are_equal_bit_for_bit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1")
    runs = [tmp_path / "a", tmp_path / "b"]
    processes = [
        subprocess.Popen(
            [sys.executable, str(JOB), str(run), "epoch", "--workers", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for run in runs
    ]
    for process in processes:
        output, _ = process.communicate(timeout=240)
        assert process.returncode == 0, output[-3000:]
    losses = [(run / "losses.txt").read_text() for run in runs]
    assert len(losses[0].splitlines()) == 30 and losses[0] == losses[1]
    weights = [torch.load(run / "iter_30.pth", weights_only=True)["state_dict"] for run in runs]
    assert all(torch.equal(value, weights[1][key]) for key, value in weights[0].items())
