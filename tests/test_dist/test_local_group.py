"""``infer_launcher``, ``init_local_group``/``get_local_group`` and ``all_reduce_params``,
in one process and under a real ``torchrun`` of 4 processes (2 simulated machines of 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest
import torch

from tests.test_distributed._launch import clean_env, torchrun
from torchrig import dist

WORKER = Path(__file__).with_name("_local_group_worker.py")


@pytest.mark.parametrize(
    ("variables", "launcher"),
    [
        ({}, "none"),
        ({"WORLD_SIZE": "2", "SLURM_NTASKS": "2"}, "pytorch"),  # torchrun inside an allocation
        ({"SLURM_NTASKS": "4", "SLURM_PROCID": "0"}, "slurm"),
        ({"OMPI_COMM_WORLD_LOCAL_RANK": "0"}, "mpi"),
    ],
)
def test_infer_launcher_reads_the_launchers_variables(variables, launcher):
    with mock.patch.dict(os.environ, clean_env(**variables), clear=True):
        assert dist.infer_launcher() == launcher


def test_single_process_answers():
    assert dist.get_local_group() is None
    params = [torch.ones(3), torch.arange(4.0)]
    dist.all_reduce_params(params)
    assert params[0].tolist() == [1.0] * 3 and params[1].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.skipif(
    tuple(int(part) for part in torch.__version__.split(".")[:2]) < (2, 8),
    reason="on torch 2.7 (the floor), destroy_process_group hangs in a worker after "
    "init_local_group's gloo subgroups; 2.13 passes; 2.8-2.12 untested",
)
def test_local_groups_and_all_reduce_params_under_torchrun(tmp_path):
    code, output = torchrun(4, str(WORKER), str(tmp_path), cwd=tmp_path)
    assert code == 0, output[-6000:]
    answers = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(4)]
    for rank, got in enumerate(answers):
        assert got["launcher"] == "pytorch"
        assert "init_local_group" in got["before_init"]
        assert (got["local_rank"], got["local_size"]) == (rank % 2, 2)
        # machine 0 holds ranks 0 and 1, machine 1 ranks 2 and 3
        assert got["local_sum"] == (1.0 if rank < 2 else 5.0)
        assert got["weight"] == [0.0 + 1 + 2 + 3] * 6  # the sum of every rank's fill
        assert got["bias"] == [40.0 + 6] * 3
        assert got["steps"] == [3]  # op='max', one collective per tensor
        assert got["bucketed"] == [[1.5, 1.5], [1.0, 1.0], [1.0, 1.0]]
