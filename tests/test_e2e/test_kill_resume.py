"""A run killed with SIGKILL and resumed equals an uninterrupted run, bit for bit.

Property test: for several seeds, the victim is killed at a random iteration, in training,
in validation or while saving a checkpoint; epoch- and iteration-based, with and without
dataloader workers. The resumed run's per-iteration losses and final weights must equal the
uninterrupted run's exactly.

The training runs in child processes forked from the test (so torch is imported once);
each child uses one thread, and the victim is killed from outside with SIGKILL.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import random
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

SEEDS = (0, 1, 2)  # seed i kills in phase job.PHASES[i]: every phase is covered


def _child(work_dir: str, mode: str, resume: bool, pause_at: int, pause_in: str, workers: int):
    torch.set_num_threads(1)
    with open(f"{work_dir}.out", "a") as out:
        os.dup2(out.fileno(), sys.stdout.fileno())
        os.dup2(out.fileno(), sys.stderr.fileno())
        job.run_job(work_dir, mode, resume, pause_at, pause_in, workers)


def _start(work_dir: Path, mode: str, workers: int, resume=False, pause_at=0, pause_in="train"):
    work_dir.mkdir(exist_ok=True)
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(str(work_dir), mode, resume, pause_at, pause_in, workers)
    )  # not a daemon: dataloader workers are its children
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


def _kill_when_paused(process, work_dir: Path) -> str:
    """SIGKILLs the victim once it paused; returns where it paused."""
    deadline = time.monotonic() + 120
    while not (work_dir / "paused").exists():
        assert process.is_alive(), Path(f"{work_dir}.out").read_text()[-3000:]
        assert time.monotonic() < deadline, f"the job in {work_dir} never paused"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    where = (work_dir / "paused").read_text()
    (work_dir / "paused").unlink()
    return where


def _losses(work_dir: Path) -> dict[int, str]:
    """Iteration -> exact loss; a later line for the same iteration wins (the resumed run)."""
    losses: dict[int, str] = {}
    for line in (work_dir / "losses.txt").read_text().splitlines():
        iteration, value = line.split()
        losses[int(iteration)] = value
    return losses


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.mark.parametrize(
    ("mode", "workers"), [("epoch", 0), ("epoch", 2), ("iter", 0), ("iter", 2)]
)
def test_sigkill_anywhere_then_resume_matches_uninterrupted_run(tmp_path, mode, workers):
    import torch._dynamo  # noqa: F401 - torch.optim imports it on first use; once, here

    whole = tmp_path / "whole"
    uninterrupted = _start(whole, mode, workers)
    victims = {}
    for seed in SEEDS:
        rng = random.Random(f"{mode}-{workers}-{seed}")
        phase = job.PHASES[seed % len(job.PHASES)]
        pause_at = rng.randint(1, 29)
        work_dir = tmp_path / f"killed-{seed}"
        victim = _start(work_dir, mode, workers, pause_at=pause_at, pause_in=phase)
        where = _kill_when_paused(victim, work_dir)
        assert where.split()[0] == phase
        victims[work_dir] = (where, _start(work_dir, mode, workers, resume=True))
    _wait(uninterrupted, whole)
    expected = _losses(whole)
    assert sorted(expected) == list(range(1, 31))
    expected_weights = _weights(whole / "iter_30.pth")
    for work_dir, (where, resumed) in victims.items():
        _wait(resumed, work_dir)
        assert _losses(work_dir) == expected, f"killed in {where}"
        got_weights = _weights(work_dir / "iter_30.pth")
        assert expected_weights.keys() == got_weights.keys()
        for key, value in expected_weights.items():
            assert torch.equal(value, got_weights[key]), f"{key}, killed in {where}"
