"""Two torchrun agents with ``--nnodes 2`` on this machine (c10d rendezvous), each with its own
directory as two machines without a shared disk would have.

One set of checkpoints, one log and one W&B run, all on the machine of global rank 0 (c10d
decides which agent that is); the other machine's files are torchrun's own per-node worker
logs. Training equals the same job on one machine, and validation equals one process. A rank
killed mid-run fails both agents within a minute, and torchrun names it.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.test_distributed._launch import SCRIPTS, torchrun, two_agents


def _evaluate_exactly() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_evaluate_exactly", SCRIPTS / "evaluate_exactly.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(directory: Path, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob(pattern))


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same training on one machine: ``torchrun --nproc-per-node 2``."""
    out = tmp_path_factory.mktemp("one_machine")
    code, output = torchrun(2, "train_fault.py", str(out), "plain", cwd=out)
    assert code == 0, output[-6000:]
    return out


def test_two_nodes_train_validate_and_write_once(tmp_path, one_machine):
    outs = [tmp_path / "node_a", tmp_path / "node_b"]
    for out in outs:
        out.mkdir()
    results = two_agents("train_fault.py", outs, "multinode")
    for code, output, _ in results:
        assert code == 0, output[-6000:]
    main = [out for out in outs if (out / "final.pth").exists()]
    assert len(main) == 1, "exactly one machine holds global rank 0"
    main_dir, other_dir = main[0], next(out for out in outs if out not in main)

    work = main_dir / "work"
    assert _files(work, "*.pth") == [f"iter_{i}.pth" for i in (10, 20, 30, 40)]
    assert not _files(work, "*.tmp")
    logs = [name for name in _files(work, "*.log") if "/wandb/" not in name]
    assert len(logs) == 1, logs  # the run's log, written by global rank 0
    runs = [p.name for p in work.rglob("offline-run-*") if p.is_dir()]
    assert len(runs) == 1, runs
    # the other machine writes no checkpoint, log, tracker run or config of torchrig's
    assert [p for p in (other_dir / "work").rglob("*") if p.is_file()] == []
    # each machine keeps torchrun's logs of its own workers (--log-dir, --tee 3)
    for out in outs:
        assert len(_files(out / "torchrun_logs", "attempt_0/0/stdout.log")) == 1
    assert "Checkpoints will be saved" in "".join(
        p.read_text() for p in (main_dir / "torchrun_logs").rglob("stdout.log")
    )

    # training across two machines equals the same job on one, bit for bit
    got = torch.load(main_dir / "final.pth", weights_only=True)
    expected = torch.load(one_machine / "final.pth", weights_only=True)
    assert sorted(got) == sorted(expected)
    assert all(torch.equal(got[key], expected[key]) for key in expected)
    metrics = json.loads((main_dir / "metrics.json").read_text())
    assert metrics == json.loads((one_machine / "metrics.json").read_text())
    assert metrics["toy/count"] == 13

    # validation and test on two machines equal one process exactly
    report = _evaluate_exactly().evaluate(str(tmp_path / "one"), "none", lengths=(1000, 7))
    assert json.loads((main_dir / "evaluate.json").read_text()) == json.loads(json.dumps(report))


def test_a_killed_rank_fails_both_machines_within_a_minute(tmp_path):
    outs = [tmp_path / "node_a", tmp_path / "node_b"]
    for out in outs:
        out.mkdir()
    results = two_agents("train_fault.py", outs, "die", timeout=180)
    ended = time.time()
    outputs = "\n".join(output for _, output, _ in results)
    for code, output, _ in results:
        assert code != 0, output[-4000:]
    killed = [
        float((out / "killed_at").read_text()) for out in outs if (out / "killed_at").exists()
    ]
    assert len(killed) == 1, outputs[-4000:]
    print(f"both agents failed {ended - killed[0]:.1f} s after the kill")
    assert ended - killed[0] < 60, outputs[-4000:]
    # torchrun's summary names the rank that was killed
    assert "rank      : 1" in outputs and "Signal 9 (SIGKILL)" in outputs, outputs[-6000:]
