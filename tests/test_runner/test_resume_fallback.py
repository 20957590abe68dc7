"""Resume from a work directory whose latest checkpoint is truncated or corrupt (a disk
fault): the newest intact checkpoint is used, with a warning naming both, and nothing is
deleted; a checkpoint named explicitly that is corrupt is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.test_e2e._resume_job import build_runner
from torchrig.hooks import Hook
from torchrig.runner import CheckpointError


class _FilesAtStart(Hook):
    """Records, when training starts (after the resume), the bytes of some files."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.seen: dict[Path, bytes | None] = {}

    def before_train(self, runner) -> None:
        self.seen = {p: p.read_bytes() if p.exists() else None for p in self.paths}


def _train(work_dir: Path, **kwargs):
    runner = build_runner(str(work_dir), "iter", **kwargs)
    runner.train()
    runner.visualizer.close()
    return runner


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A finished 30-iteration run (checkpoints every 4) and its final weights."""
    work_dir = tmp_path_factory.mktemp("trained")
    runner = _train(work_dir)
    return work_dir, {k: v.clone() for k, v in runner.model.state_dict().items()}


def _copy_run(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.glob("iter_*.pth"):
        shutil.copy2(path, target / path.name)  # with its time: the newest is the latest
    (target / "last_checkpoint").write_text(str(target / "iter_30.pth"))
    return target


def test_a_truncated_latest_checkpoint_falls_back_to_the_newest_intact_one(
    trained, tmp_path, capsys
):
    work_dir = _copy_run(trained[0], tmp_path / "run")
    latest, older = work_dir / "iter_30.pth", work_dir / "iter_28.pth"
    latest.write_bytes(latest.read_bytes()[:5000])  # truncated
    older.write_bytes(b"\0" * 4096)  # overwritten with zeros
    bad = {p: p.read_bytes() for p in (latest, older)}
    files = _FilesAtStart(list(bad))
    runner = build_runner(str(work_dir), "iter", resume=True, custom_hooks=(files,))
    runner.train()
    runner.visualizer.close()

    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if "newest intact" in line)
    assert f"resuming from {work_dir / 'iter_24.pth'}" in warning
    assert str(latest) in warning and str(older) in warning and "truncated or corrupt" in warning
    assert files.seen == bad  # both bad files still there, untouched, when training resumed
    # ... and the run continued from iteration 24 exactly as the uninterrupted one.
    expected = trained[1]
    assert all(torch.equal(v, runner.model.state_dict()[k]) for k, v in expected.items())


def test_a_named_corrupt_checkpoint_is_an_error_without_fallback(trained, tmp_path):
    work_dir = _copy_run(trained[0], tmp_path / "run")
    named = work_dir / "iter_20.pth"
    named.write_bytes(named.read_bytes()[:100])
    runner = build_runner(str(work_dir), "iter", resume=True)
    runner._load_from = str(named)  # what load_from=... / `torchrig train --resume PATH` set
    with pytest.raises(CheckpointError, match="no other checkpoint is tried") as caught:
        runner.train()
    runner.visualizer.close()
    assert str(named) in str(caught.value)
    assert named.stat().st_size == 100


def test_no_intact_checkpoint_is_an_error_naming_each(tmp_path):
    work_dir = tmp_path / "run"
    work_dir.mkdir()
    for name in ("iter_4.pth", "iter_8.pth"):
        (work_dir / name).write_bytes(b"not a checkpoint")
    runner = build_runner(str(work_dir), "iter", resume=True)
    with pytest.raises(CheckpointError, match="no intact checkpoint") as caught:
        runner.train()
    runner.visualizer.close()
    assert "iter_4.pth" in str(caught.value) and "iter_8.pth" in str(caught.value)
