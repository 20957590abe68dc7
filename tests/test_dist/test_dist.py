from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from torchrig import dist

WORKER = Path(__file__).with_name("_dist_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, launcher: str, world: int = 2) -> list[dict]:
    """Start ``world`` worker processes as torchrun or srun would, never waiting forever."""
    port = str(_free_port())
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_", "OMPI_"))}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        base.pop(key, None)
    base["PYTHONPATH"] = os.pathsep.join([str(REPO), base.get("PYTHONPATH", "")])
    base["OMP_NUM_THREADS"] = "1"
    procs = []
    for rank in range(world):
        env = dict(base)
        if launcher == "pytorch":
            env.update(
                RANK=str(rank),
                WORLD_SIZE=str(world),
                LOCAL_RANK=str(rank),
                LOCAL_WORLD_SIZE=str(world),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            )
        elif launcher == "mpi":  # what Open MPI's mpirun sets; the address is the user's
            env.update(
                OMPI_COMM_WORLD_RANK=str(rank),
                OMPI_COMM_WORLD_SIZE=str(world),
                OMPI_COMM_WORLD_LOCAL_RANK=str(rank),
                OMPI_COMM_WORLD_LOCAL_SIZE=str(world),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            )
        else:
            env.update(
                SLURM_PROCID=str(rank),
                SLURM_NTASKS=str(world),
                SLURM_LOCALID=str(rank),
                SLURM_NNODES="1",
                SLURM_NODELIST="127.0.0.1",
                MASTER_PORT=port,
            )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), launcher, str(tmp_path)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=120)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]


def _single_process_answers() -> dict:
    """What the same calls give in one process without a process group."""
    x = torch.tensor([1.0, 10.0])
    dist.all_reduce(x)
    y = torch.tensor([1.0, 3.0])
    dist.all_reduce(y, op="mean")
    full = [None if i == 3 else {"idx": i} for i in range(7)]
    return {
        "all_reduce_sum": x.tolist(),
        "all_reduce_mean": y.tolist(),
        "all_gather": [t.tolist() for t in dist.all_gather(torch.tensor([0, 0]))],
        "collect": dist.collect_results(full + [{"idx": 0}], 7),
        "collect_gpu": dist.collect_results(full, 7, device="gpu"),
    }


def test_single_process_no_ops(tmp_path: Path) -> None:
    assert not dist.is_distributed()
    assert dist.get_dist_info() == (0, 1)
    assert (dist.get_local_rank(), dist.get_local_size()) == (0, 1)
    assert dist.is_main_process()
    assert dist.get_comm_device() == torch.device("cpu")
    assert dist.get_backend() is None
    dist.barrier()
    one = _single_process_answers()
    assert one["all_reduce_sum"] == [1.0, 10.0]
    assert one["all_reduce_mean"] == [1.0, 3.0]
    assert one["all_gather"] == [[0, 0]]
    full = [None if i == 3 else {"idx": i} for i in range(7)]
    assert one["collect"] == full
    assert one["collect_gpu"] == full
    t = torch.tensor([4.0])
    dist.broadcast(t, src=0)
    assert t.tolist() == [4.0]
    objs = ["a", 1]
    dist.broadcast_object_list(objs)
    assert objs == ["a", 1]
    assert dist.all_gather_object({"k": 1}) == [{"k": 1}]
    assert dist.gather_object(3) == [3]
    assert [g.tolist() for g in dist.gather(torch.tensor([2]))] == [[2]]
    seed = dist.sync_random_seed()
    assert isinstance(seed, int) and 0 <= seed < 2**31
    assert dist.master_only(lambda: "ran")() == "ran"
    dist.init_dist("none")
    assert not dist.is_distributed()
    with pytest.raises(ValueError, match="unknown op"):
        dist.all_reduce(torch.tensor([1.0]), op="median")
    with pytest.raises(ValueError, match="launcher"):
        dist.init_dist("mpi-ish")


def test_init_dist_missing_env_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(KeyError, match="LOCAL_RANK"):
        dist.init_dist("pytorch")
    with pytest.raises(KeyError, match="SLURM_PROCID"):
        dist.init_dist("slurm")
    assert not dist.is_distributed()


def test_mpi_environment_translation() -> None:
    from torchrig.dist import utils

    with mock.patch.dict(os.environ):  # restores every variable afterwards
        for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_PORT"):
            os.environ.pop(key, None)
        os.environ.pop("MASTER_ADDR", None)
        os.environ.update(
            OMPI_COMM_WORLD_RANK="3",
            OMPI_COMM_WORLD_SIZE="4",
            OMPI_COMM_WORLD_LOCAL_RANK="1",
            OMPI_COMM_WORLD_LOCAL_SIZE="2",
        )
        with pytest.raises(KeyError, match="MASTER_ADDR"):
            utils._set_mpi_env(None)
        os.environ["MASTER_ADDR"] = "10.0.0.1"
        utils._set_mpi_env(1234)
        env = os.environ
        assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("3", "4", "1")
        assert (env["LOCAL_WORLD_SIZE"], env["MASTER_PORT"]) == ("2", "1234")
    with pytest.raises(ValueError, match="init_backend"):
        dist.init_dist("pytorch", init_backend="deepspeed")


def test_first_host_of_slurm_nodelist(monkeypatch: pytest.MonkeyPatch) -> None:
    from torchrig.dist import utils

    monkeypatch.setattr(utils.shutil, "which", lambda name: None)
    assert utils._first_host("node[03-05,9],gpu1") == "node03"
    assert utils._first_host("host7") == "host7"
    assert utils._first_host("a-b[1,2]") == "a-b1"


def test_two_processes_pytorch_launcher(tmp_path: Path) -> None:
    r0, r1 = _launch(tmp_path, "pytorch")
    one = _single_process_answers()
    assert [r0["rank"], r1["rank"]] == [0, 1]
    assert r0["world"] == r1["world"] == 2
    assert [r0["local_rank"], r1["local_rank"]] == [0, 1]
    assert r0["local_size"] == 2
    assert r0["is_main"] and not r1["is_main"]
    assert r0["distributed"] and r0["comm_device"] == "cpu"
    for r in (r0, r1):
        # rank 0 contributes what the single process had, rank 1 its own values
        assert r["all_reduce_sum"] == [one["all_reduce_sum"][0] + 2.0, 10.0 + 20.0]
        assert r["all_reduce_mean"] == [(1.0 + 2.0) / 2, 3.0]
        assert r["all_reduce_max"] == [6]
        assert r["all_gather"] == one["all_gather"] + [[1, 2]]
        assert r["broadcast"] == [8.0]
        assert r["broadcast_object_list"] == ["from0", {"rank": 0}]
        assert r["all_gather_object"] == [{"r": 0, "s": ""}, {"r": 1, "s": "x"}]
        assert r["all_reduce_dict"] == {"a": [1.0], "b": [[4, 1]]}
    assert r0["seed"] == r1["seed"]
    assert r0["gather"] == [[1], [2]] and r1["gather"] == []
    assert r0["gather_object"] == [0, 3] and r1["gather_object"] is None
    assert r0["master_only"] == "ran" and r1["master_only"] is None
    # collected results equal the single process's, padding cut, only on rank 0
    for key in ("collect_cpu", "collect_cpu_tmpdir", "collect_gpu", "collect_gpu_uneven"):
        assert r0[key] == one["collect"], key
        assert r1[key] is None, key
    assert not list((tmp_path / "shared").glob("part_*.pkl"))
    assert not (tmp_path / ".dist_test").exists()  # without tmpdir, no files at all


def test_two_processes_slurm_launcher(tmp_path: Path) -> None:
    r0, r1 = _launch(tmp_path, "slurm")
    assert [r0["rank"], r1["rank"]] == [0, 1]
    assert r0["local_size"] == 2 and r1["local_rank"] == 1
    assert r0["all_reduce_sum"] == r1["all_reduce_sum"] == [3.0, 30.0]
    assert r0["collect_gpu_uneven"] == _single_process_answers()["collect"]


def test_two_processes_mpi_launcher(tmp_path: Path) -> None:
    r0, r1 = _launch(tmp_path, "mpi")
    assert [r0["rank"], r1["rank"]] == [0, 1]
    assert r0["world"] == 2 and r1["local_rank"] == 1 and r0["local_size"] == 2
    assert r0["all_reduce_sum"] == r1["all_reduce_sum"] == [3.0, 30.0]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        # srun -N 2 --ntasks-per-node 4: task 5 is the 2nd of node gpu-b07
        (
            dict(
                SLURM_PROCID="5",
                SLURM_NTASKS="8",
                SLURM_LOCALID="1",
                SLURM_NNODES="2",
                SLURM_NTASKS_PER_NODE="4",
                SLURM_NODELIST="gpu-b[06-07]",
            ),
            dict(
                RANK="5",
                WORLD_SIZE="8",
                LOCAL_RANK="1",
                LOCAL_WORLD_SIZE="4",
                MASTER_ADDR="gpu-b06",
                MASTER_PORT="29500",
            ),
        ),
        # an uneven layout ("3(x2)"), a port and address the user chose
        (
            dict(
                SLURM_PROCID="0",
                SLURM_NTASKS="6",
                SLURM_LOCALID="0",
                SLURM_JOB_NUM_NODES="2",
                SLURM_NTASKS_PER_NODE="3(x2)",
                SLURM_NODELIST="n1,n2",
                MASTER_PORT="12345",
                MASTER_ADDR="10.1.1.1",
            ),
            dict(
                RANK="0",
                WORLD_SIZE="6",
                LOCAL_RANK="0",
                LOCAL_WORLD_SIZE="3",
                MASTER_ADDR="10.1.1.1",
                MASTER_PORT="12345",
            ),
        ),
    ],
)
def test_slurm_environment_translation(monkeypatch: pytest.MonkeyPatch, variables, expected):
    from torchrig.dist import utils

    monkeypatch.setattr(utils.shutil, "which", lambda name: None)  # no scontrol here
    with mock.patch.dict(os.environ):
        for key in [*expected, "SLURM_NNODES", "SLURM_JOB_NUM_NODES"]:
            os.environ.pop(key, None)
        os.environ.update(variables)
        utils._set_slurm_env(None)
        assert {key: os.environ[key] for key in expected} == expected
        utils._set_slurm_env(23456)  # init_dist(..., port=23456) wins over MASTER_PORT
        assert os.environ["MASTER_PORT"] == "23456"


def test_first_host_asks_scontrol_when_there_is_one(tmp_path, monkeypatch) -> None:
    from torchrig.dist import utils

    scontrol = tmp_path / "scontrol"
    scontrol.write_text("#!/bin/sh\necho first-of-$3\necho second\n")
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert utils._first_host("x[1-2]") == "first-of-x[1-2]"
