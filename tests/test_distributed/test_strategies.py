"""The FlexibleRunner's DDP and FSDP strategies on 2 CPU processes (gloo, torchrun) against
one process; one launch (``scripts/flexible_two_ranks.py``) runs every section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.test_distributed.test_two_processes import BATCH, ITERS, _assert_close, _torchrun, _toy

SECTIONS = ("ddp_strategy", "fsdp_full", "fsdp_local", "fsdp_prepare")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("flexible_two_ranks")
    _, output = _torchrun("flexible_two_ranks.py", str(out), ",".join(SECTIONS), cwd=out)
    return out, output


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The same training in this process with the default strategy, on the doubled batch."""
    from torchrig._strategy import SingleDeviceStrategy
    from torchrig.runner import FlexibleRunner

    kwargs = _toy().runner_kwargs(str(tmp_path_factory.mktemp("one")), "none", 2 * BATCH, ITERS)
    runner = FlexibleRunner(**kwargs)
    try:
        assert isinstance(runner.strategy, SingleDeviceStrategy)
        runner.train()
    finally:
        runner.visualizer.close()
    return {key: value.detach().clone() for key, value in runner.model.state_dict().items()}


def _section(two_ranks: tuple[Path, str], name: str) -> tuple[Path, dict[str, Any]]:
    out, output = two_ranks
    if not (out / f"{name}.done").exists():
        pytest.fail(f"section {name!r} of flexible_two_ranks.py did not finish:\n{output[-8000:]}")
    report = out / f"{name}.json"
    return out, json.loads(report.read_text()) if report.exists() else {}


def test_ddp_strategy_joins_torchrun_and_matches_one_process(two_ranks, one_process):
    out, report = _section(two_ranks, "ddp_strategy")
    assert report["strategy"] == "DDPStrategy"
    assert report["wrapper"] == "MMDistributedDataParallel"
    assert report["launcher"] == "pytorch" and report["world_size"] == 2
    assert report["strategy_world_size"] == 2
    weights = torch.load(out / "ddp_strategy_final.pth", weights_only=True)
    start = _toy().runner_kwargs("unused", "none", BATCH, ITERS)["model"].state_dict()
    assert not torch.allclose(weights["net.0.weight"], start["net.0.weight"])
    _assert_close(weights, one_process, atol=1e-5)


@pytest.mark.parametrize("name", ["fsdp_full", "fsdp_local"])
def test_fsdp_strategy_trains_checkpoints_and_resumes(two_ranks, one_process, name):
    out, report = _section(two_ranks, name)
    assert report["strategy"] == "FSDPStrategy"
    assert report["wrapper"] == "MMFullyShardedDataParallel"
    # The FSDP1 policies MMEngine configs use picked both Linear layers as shard units.
    assert report["fsdp_units"] == ["", "net.0", "net.2"]
    final = torch.load(out / f"{name}_final.pth", weights_only=True)
    _assert_close(final, one_process, atol=1e-5)
    resumed = torch.load(out / f"{name}_resumed.pth", weights_only=True)
    _assert_close(resumed, final, atol=1e-6)

    work_dir = out / name
    checkpoint = torch.load(work_dir / "iter_6.pth", weights_only=True)
    if name == "fsdp_full":  # whole weights, loadable without FSDP
        from torchrig.runner.checkpoint import load_checkpoint

        plain = _toy().ToyRegressor()
        load_checkpoint(plain, work_dir / "iter_6.pth", strict=True)
        _assert_close(plain.state_dict(), final, atol=0)
    else:  # MMEngine's 'local': every rank's shards beside the file
        assert "state_dict" not in checkpoint
        assert (work_dir / checkpoint["meta"]["sharded_checkpoint"] / ".metadata").is_file()


def test_fsdp_strategy_prepare_in_a_loop_of_ones_own(two_ranks):
    out, report = _section(two_ranks, "fsdp_prepare")
    assert report["wrapper"] == "MMFullyShardedDataParallel"
    assert report["rank"] == 0 and report["world_size"] == 2 and report["log_exists"]
    # StepLR ends with max_iters=3 (exclusive): the third step leaves the rate alone.
    assert report["lr"] == pytest.approx(0.05 * 0.5**2)

    # One process, the same three steps on the doubled batch.
    toy = _toy()
    torch.manual_seed(0)
    model = toy.ToyRegressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = toy.ToyRegression(24)
    for step in range(3):
        inputs, targets = data.x[8 * step : 8 * step + 8], data.y[8 * step : 8 * step + 8]
        optimizer.zero_grad()
        ((model(inputs) - targets) ** 2).mean().backward()
        optimizer.step()
        optimizer.param_groups[0]["lr"] *= 0.5
    state = torch.load(out / "fsdp_prepare_state.pth", weights_only=True)
    _assert_close(state, model.state_dict(), atol=1e-5)
    saved = torch.load(out / "prepare" / "final.pth", weights_only=True)
    _assert_close(saved["state_dict"], state, atol=0)
    assert sorted(saved["optimizer"]["param_groups"][0]["params"]) == sorted(state)
    assert len(saved["param_schedulers"]) == 1 and "last_step" in saved["param_schedulers"][0]
