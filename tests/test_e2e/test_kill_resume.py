"""A run killed with SIGKILL mid-epoch and resumed equals an uninterrupted run, bit for bit.

The training runs in child processes forked from the test (so torch is imported once);
each child uses one thread, and the victim is killed from outside with SIGKILL.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location(
    "_resume_job", Path(__file__).with_name("_resume_job.py")
)
job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(job)


def _child(work_dir: str, mode: str, resume: bool, pause_at: int) -> None:
    torch.set_num_threads(1)
    with open(f"{work_dir}.out", "w") as out:
        os.dup2(out.fileno(), sys.stdout.fileno())
        os.dup2(out.fileno(), sys.stderr.fileno())
        job.run_job(work_dir, mode, resume, pause_at)


def _start(work_dir: Path, mode: str, resume: bool = False, pause_at: int = 0):
    work_dir.mkdir(exist_ok=True)
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(str(work_dir), mode, resume, pause_at), daemon=True
    )
    process.start()
    return process


def _wait(process, work_dir: Path, timeout: float = 120) -> None:
    process.join(timeout)
    if process.is_alive():
        process.kill()
        raise AssertionError(f"training in {work_dir} did not finish")
    if process.exitcode != 0:
        output = Path(f"{work_dir}.out").read_text()
        raise AssertionError(f"training failed ({process.exitcode}):\n{output[-3000:]}")


def _losses(work_dir: Path) -> dict[int, str]:
    """Iteration -> exact loss; a later line for the same iteration wins (the resumed run)."""
    losses: dict[int, str] = {}
    for line in (work_dir / "losses.txt").read_text().splitlines():
        iteration, value = line.split()
        losses[int(iteration)] = value
    return losses


@pytest.mark.parametrize("mode", ["epoch", "iter"])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path: Path, mode: str):
    import torch._dynamo  # noqa: F401 - torch.optim imports it on first use; once, here

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # Checkpoints every 4 iterations, 10 iterations per epoch: the victim is killed after
    # iteration 14, so its last checkpoint (12) lies in the middle of the second epoch.
    uninterrupted = _start(whole, mode)
    victim = _start(killed, mode, pause_at=14)
    deadline = time.monotonic() + 120
    while not (killed / "paused").exists():
        assert victim.is_alive(), Path(f"{killed}.out").read_text()[-3000:]
        assert time.monotonic() < deadline, "the job never reached iteration 14"
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    assert victim.exitcode == -signal.SIGKILL
    assert (killed / "iter_12.pth").exists() and not (killed / "iter_16.pth").exists()
    assert max(_losses(killed)) == 14

    resumed = _start(killed, mode, resume=True)
    _wait(uninterrupted, whole)
    _wait(resumed, killed)

    expected, got = _losses(whole), _losses(killed)
    assert sorted(expected) == list(range(1, 31))
    assert got == expected  # iterations 13 and 14 were re-run after the resume, identically
    expected_weights = torch.load(whole / "iter_30.pth", weights_only=True)["state_dict"]
    got_weights = torch.load(killed / "iter_30.pth", weights_only=True)["state_dict"]
    assert expected_weights.keys() == got_weights.keys()
    for key, value in expected_weights.items():
        assert torch.equal(value, got_weights[key]), key
