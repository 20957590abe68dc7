"""Distributed training on 2 CPU processes (gloo, torchrun) against one process.

One torchrun launch (``scripts/train_two_ranks.py``) runs every section that should succeed;
each test below reads its section's results. A second launch checks that a dead rank fails the
job. Every launch is bounded by a timeout and killed with its whole process group.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

SCRIPTS = Path(__file__).with_name("scripts")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120
SECTIONS = ("ddp", "collect", "fsdp_wrapper", "fsdp", "fsdp_sharded")
BATCH, ITERS = 4, 6  # as in scripts/train_two_ranks.py: 2 ranks x 4 == 1 process x 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(script: str, *args: str, cwd: Path) -> tuple[int, str]:
    """``torchrun --nproc-per-node 2 script args``; (return code, output). Never hangs."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
        and not key.startswith(("MASTER_", "TORCHELASTIC_", "WANDB_", "SLURM_"))
    }
    env.update(
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        str(SCRIPTS / script),
        *args,
    ]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so a timeout kills torchrun and its workers together
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun {script} did not finish within {TIMEOUT} s:\n{output[-6000:]}")
    return process.returncode, output


def _toy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_toy_distributed", SCRIPTS / "_toy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The output directory and log of the 2-process launch."""
    out = tmp_path_factory.mktemp("two_ranks")
    _, output = _torchrun("train_two_ranks.py", str(out), ",".join(SECTIONS), cwd=out)
    return out, output


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Final weights and validation metrics of the same training in this process, batch x 2."""
    from torchrig.runner import Runner

    toy = _toy()
    kwargs = toy.train_val_kwargs(str(tmp_path_factory.mktemp("one")), "none", 2 * BATCH, ITERS)
    runner = Runner(**kwargs)
    try:
        runner.train()
    finally:
        runner.visualizer.close()
    record = next(hook for hook in runner.hooks if isinstance(hook, toy.RecordMetrics))
    weights = {key: value.detach().clone() for key, value in runner.model.state_dict().items()}
    return dict(weights=weights, metrics=record.metrics, toy=toy)


def _section(two_ranks: tuple[Path, str], name: str) -> Path:
    out, output = two_ranks
    if not (out / f"{name}.done").exists():
        pytest.fail(f"section {name!r} of train_two_ranks.py did not finish:\n{output[-8000:]}")
    return out


def _assert_close(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], atol: float):
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=atol, rtol=0, msg=key)


def test_ddp_two_processes_match_one_process_on_the_doubled_batch(two_ranks, one_process):
    out = _section(two_ranks, "ddp")
    weights = torch.load(out / "ddp_final.pth", weights_only=True)
    # The model did train (it is not the starting point) ...
    start = _toy().runner_kwargs("unused", "none", BATCH, ITERS)["model"].state_dict()
    assert not torch.allclose(weights["net.0.weight"], start["net.0.weight"])
    # ... and to the weights of one process on the doubled batch.
    _assert_close(weights, one_process["weights"], atol=1e-5)


def test_metrics_and_collect_results_match_one_process(two_ranks, one_process):
    out = _section(two_ranks, "ddp")
    per_rank = [json.loads((out / f"ddp_metrics_rank{r}.json").read_text()) for r in range(2)]
    expected = one_process["metrics"]
    # 13 samples over 2 ranks in batches of 2: the padding the sampler added is cut off.
    assert expected["toy/count"] == 13 and expected["toy/index_sum"] == sum(range(13))
    for metrics in per_rank:  # every rank receives the metrics computed on rank 0
        assert metrics["toy/count"] == 13
        assert metrics["toy/index_sum"] == sum(range(13))
        assert metrics["toy/mse"] == pytest.approx(expected["toy/mse"], rel=1e-5)

    collected = json.loads((_section(two_ranks, "collect") / "collect.json").read_text())
    items = [f"item{index}" for index in range(13)]
    assert collected == dict(cpu=items, gpu=items)


def test_fsdp_trains_saves_resumes_and_loads_into_a_plain_model(two_ranks, one_process):
    out = _section(two_ranks, "fsdp")
    final = torch.load(out / "fsdp_final.pth", weights_only=True)
    # FSDP computes what DDP and one process compute.
    _assert_close(final, one_process["weights"], atol=1e-5)
    # Resumed at iteration 4 from the FSDP checkpoint, it ends where the whole run ended.
    _assert_close(torch.load(out / "fsdp_resumed.pth", weights_only=True), final, atol=1e-6)
    assert sorted(p.name for p in (out / "fsdp").glob("*.pth")) == [
        "iter_2.pth",
        "iter_4.pth",
        "iter_6.pth",
    ]

    from torchrig.runner.checkpoint import load_checkpoint

    plain = _toy().ToyRegressor()
    checkpoint = load_checkpoint(plain, out / "fsdp" / "iter_6.pth", strict=True)
    _assert_close(plain.state_dict(), final, atol=0)
    optimizer = checkpoint["optimizer"]  # full, keyed by the parameters' names
    assert sorted(optimizer["state"]) == sorted(final)
    assert all("momentum_buffer" in state for state in optimizer["state"].values())


def test_fsdp_sharded_checkpoints_resume_and_convert(two_ranks, one_process, tmp_path):
    out = _section(two_ranks, "fsdp_sharded")
    final = torch.load(out / "fsdp_sharded_final.pth", weights_only=True)
    _assert_close(final, one_process["weights"], atol=1e-5)
    _assert_close(torch.load(out / "fsdp_sharded_resumed.pth", weights_only=True), final, atol=1e-6)
    work_dir = out / "fsdp_sharded"
    checkpoint = torch.load(work_dir / "iter_6.pth", weights_only=True)
    assert "state_dict" not in checkpoint and "optimizer" not in checkpoint
    assert checkpoint["meta"]["sharded_checkpoint"] == "iter_6.pth.shards"
    assert (work_dir / "iter_6.pth.shards" / ".metadata").is_file()

    from torchrig.model.wrappers.fully_sharded_distributed import sharded_to_full_checkpoint
    from torchrig.runner.checkpoint import load_checkpoint

    sharded_to_full_checkpoint(str(work_dir / "iter_6.pth.shards"), str(tmp_path / "full.pth"))
    plain = _toy().ToyRegressor()
    converted = load_checkpoint(plain, tmp_path / "full.pth", strict=True)
    _assert_close(plain.state_dict(), final, atol=0)
    assert sorted(converted["optimizer"]["state"]) == sorted(final)

    # Unconverted, it cannot load into a plain model: the error says what to do.
    from torchrig.runner import Runner
    from torchrig.runner.checkpoint import CheckpointError

    runner = Runner(model=_toy().ToyRegressor(), work_dir=str(tmp_path / "plain"))
    try:
        with pytest.raises(CheckpointError, match="sharded_to_full_checkpoint"):
            runner.load_checkpoint(str(work_dir / "iter_6.pth"))
    finally:
        runner.visualizer.close()


def test_fsdp_wrapper_mixed_precision_and_sharded_checkpoints(two_ranks):
    out = _section(two_ranks, "fsdp_wrapper")
    report = json.loads((out / "fsdp_wrapper.json").read_text())
    assert report["output_dtype"] == "torch.bfloat16"  # computed in bf16 ...
    assert report["param_dtype"] == "torch.float32"  # ... from float32 shards
    assert report["wrapped"] == ["", "net.0", "net.2"]  # the size policy picked both layers
    assert report["sharded_roundtrip"] and report["optim_roundtrip"]
    assert (out / "sharded_ckpt" / ".metadata").exists()
    expected = torch.load(out / "sharded_expected.pth", weights_only=True)
    converted = torch.load(out / "sharded_as_full.pth", weights_only=True)
    _assert_close(converted["state_dict"], expected, atol=0)


def test_two_process_wandb_job_makes_one_run_one_log_one_set_of_checkpoints(two_ranks):
    work_dir = _section(two_ranks, "ddp") / "ddp"
    runs = sorted(p.name for p in work_dir.rglob("offline-run-*") if p.is_dir())
    assert len(runs) == 1, runs
    run_dirs = [p for p in work_dir.iterdir() if p.is_dir()]
    assert len(run_dirs) == 1, run_dirs  # both ranks agreed on one timestamp
    logs = [p for p in work_dir.rglob("*.log") if "wandb" not in p.parts]
    assert [p.name for p in logs] == [f"{run_dirs[0].name}.log"]
    files = sorted(p.name for p in work_dir.iterdir() if p.is_file())
    assert [f for f in files if f.endswith(".pth")] == ["iter_2.pth", "iter_4.pth", "iter_6.pth"]
    assert not [f for f in files if f.endswith(".tmp")]
    assert (work_dir / "last_checkpoint").read_text().strip().endswith("iter_6.pth")


def test_a_dead_rank_fails_the_job_instead_of_hanging(tmp_path):
    returncode, output = _torchrun("die_mid_training.py", str(tmp_path / "work"), cwd=tmp_path)
    assert returncode != 0, output[-4000:]
    assert "ChildFailedError" in output, output[-4000:]
    assert "exitcode: 1" in output and "local_rank: 1" in output, output[-4000:]
