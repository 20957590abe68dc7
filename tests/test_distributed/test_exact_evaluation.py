"""Distributed validation and test metrics equal one process's, exactly.

The worker script evaluates dataset lengths 1797, 1000, 7 and 1 with metrics that keep
numbers per sample, a dict of tensors per batch (MMEngine's tutorial metric) and a tensor per
sample, gathered with ``collect_device='cpu'`` and ``'gpu'`` (object collectives; over gloo
here). The sampler pads the last ranks with repeated samples; none of them may count.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
import torch

from tests.test_distributed._launch import SCRIPTS, torchrun


def _worker() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_evaluate_exactly", SCRIPTS / "evaluate_exactly.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("one")
    report = _worker().evaluate(str(out), "none")
    return json.loads(json.dumps(report))  # keys as the workers' JSON has them


@pytest.mark.parametrize("world_size", [2, 3])
def test_distributed_metrics_equal_one_process_exactly(world_size, one_process, tmp_path):
    code, output = torchrun(
        world_size, "evaluate_exactly.py", str(tmp_path), "pytorch", cwd=tmp_path
    )
    assert code == 0, output[-6000:]
    distributed = json.loads((tmp_path / "metrics.json").read_text())
    for length in ("1797", "1000", "7", "1"):
        for stage in ("val", "test"):
            expected = one_process[length][stage]
            assert expected["numbers_cpu/count"] == int(length)
            order = expected["numbers_cpu/order"]  # the sampler's order: shuffled for val
            assert sorted(order) == list(range(int(length)))
            if stage == "test":
                assert order == list(range(int(length)))
            assert distributed[length][stage] == expected, (length, stage)
    # losses a model's val_step returns are averaged over every rank's batches
    batches = [[rank + 1.0] * (rank + 1) for rank in range(world_size - 1)]
    mean = sum(map(sum, batches)) / sum(map(len, batches))
    for rank in range(world_size):
        averages = json.loads((tmp_path / f"losses_rank{rank}.json").read_text())
        assert averages == {"loss": pytest.approx(mean), "val_loss": pytest.approx(mean)}


def test_padding_filter_rebuilds_the_padded_batch_without_its_repeat():
    from torch.utils.data import DataLoader, DistributedSampler

    from torchrig.dataset import DefaultSampler
    from torchrig.runner._eval_padding import PaddingFilter

    data = list(range(7))
    # rank 1 of 2 sees positions 1, 3, 5, 7; position 7 repeats index 0
    sampler = DefaultSampler(data, shuffle=False)
    sampler.rank, sampler.world_size = 1, 2
    sampler.num_samples, sampler.total_size = 4, 8
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    padding = PaddingFilter(loader)
    batches = list(loader)
    assert [b.tolist() for b in batches] == [[1, 3, 5], [0]]
    assert padding.filter(0, batches[0]) == (batches[0], True)
    assert padding.filter(1, batches[1]) == (batches[1], False)  # padding alone: no results

    torch_sampler = DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)
    loader = DataLoader(data, batch_size=2, sampler=torch_sampler)
    batch, real = PaddingFilter(loader).filter(1, list(loader)[1])
    assert real and batch.tolist() == [5]  # [5, 0] without the repeated 0

    # rank 0 of 2 holds no padding; nor does a sampler that does not round up
    sampler = DefaultSampler(data, shuffle=False, round_up=False)
    assert PaddingFilter(DataLoader(data, batch_size=3, sampler=sampler)).batch_index is None


@pytest.mark.skipif(
    torch.cuda.device_count() < 2, reason="collect_device='gpu' over NCCL needs 2 GPUs"
)
def test_gpu_collection_over_nccl_equals_one_process(one_process, tmp_path):
    code, output = torchrun(
        2, "evaluate_exactly.py", str(tmp_path), "pytorch", "nccl", cwd=tmp_path
    )
    assert code == 0, output[-6000:]
    distributed = json.loads((tmp_path / "metrics.json").read_text())
    assert distributed == one_process
