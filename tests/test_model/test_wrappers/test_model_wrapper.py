from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

from torchrig.model import (
    MMDistributedDataParallel,
    MMSeparateDistributedDataParallel,
    is_model_wrapper,
)
from torchrig.registry import MODEL_WRAPPERS, Registry

WORKER = Path(__file__).with_name("_ddp_worker.py")
REPO = Path(__file__).resolve().parents[3]


def _worker_module():
    spec = importlib.util.spec_from_file_location("_ddp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wrappers_registered():
    for cls in (
        MMDistributedDataParallel,
        MMSeparateDistributedDataParallel,
        DistributedDataParallel,
        DataParallel,
    ):
        assert MODEL_WRAPPERS.get(cls.__name__) is cls


def test_is_model_wrapper_searches_child_registries():
    class Wrapper(nn.Module):
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

    root = Registry("wrapper root", scope="test_root")
    child = Registry("wrapper child", parent=root, scope="test_child")
    child.register_module(module=Wrapper)
    wrapped = Wrapper(nn.Linear(1, 1))
    assert is_model_wrapper(wrapped, registry=root)
    assert not is_model_wrapper(wrapped)  # not registered in MODEL_WRAPPERS
    assert not is_model_wrapper(nn.Linear(1, 1))
    assert is_model_wrapper(DataParallel(nn.Linear(1, 1)))


def _run_workers(tmp_path: Path, port: int) -> list[tuple[int, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", str(port), str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = []
    try:
        for proc in procs:
            # A worker that dies makes its peer fail at the 60 s gloo timeout, not hang.
            outputs.append(proc.communicate(timeout=150)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [(proc.returncode, out) for proc, out in zip(procs, outputs)]


def _launch(tmp_path: Path) -> None:
    """Run the 2 workers; a port taken by another process in the meantime gets a retry."""
    for _attempt in range(3):
        results = _run_workers(tmp_path, _free_port())
        if all(code == 0 for code, _ in results):
            return
        if not any("address already in use" in out.lower() for _, out in results):
            break
    for code, out in results:
        assert code == 0, out


@pytest.mark.slow
def test_ddp_two_processes_match_one_process_on_the_doubled_batch(tmp_path):
    worker = _worker_module()
    _launch(tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    # One process on the whole batch, with the plain BaseModel.train_step.
    model, optim_wrapper = worker.build()
    for batch in worker.batches():
        model.train_step(batch, optim_wrapper)
    expected = model.state_dict()
    for result in ranks:
        assert result["is_wrapper"]
        for key, value in expected.items():
            torch.testing.assert_close(result["plain"][key], value, rtol=1e-5, atol=1e-6)
    # Each rank's own loss is logged (not reduced), as in MMEngine.
    assert not torch.equal(ranks[0]["last_loss"], ranks[1]["last_loss"])
    assert ranks[0]["val"].shape == (4, 1)

    # Accumulating 2 micro-batches per rank equals one step on the doubled batch, and the first
    # micro-step did not synchronise gradients (no_sync).
    model, _ = worker.build()
    optim_wrapper = worker.OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(worker.batches()[0], optim_wrapper)
    for result in ranks:
        assert result["first_micro_grads_differ"]
        for key, value in model.state_dict().items():
            torch.testing.assert_close(result["accumulated"][key], value, rtol=1e-5, atol=1e-6)

    # MMSeparateDistributedDataParallel: each trainable sub-network synchronised on its own.
    model, optim_wrapper = worker.build_two_net()
    for batch in worker.batches():
        model.train_step(batch, optim_wrapper)
    for result in ranks:
        assert result["separate_wrapped"] == [True, True, False]
        for key, value in model.state_dict().items():
            torch.testing.assert_close(result["separate"][key], value, rtol=1e-5, atol=1e-6)
