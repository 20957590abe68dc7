"""Launching worker scripts under ``torchrun`` for the tests of this package, bounded in time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).with_name("scripts")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any launcher's variables, torchrig importable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK")
        and not key.startswith(("MASTER_", "TORCHELASTIC_", "WANDB_", "SLURM_", "OMPI_"))
    }
    env.update(
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
    )
    env.update(extra)
    return env


def torchrun_command(torchrun_args: Sequence[str], script: str, *args: str) -> list[str]:
    """The torchrun command line; ``script`` is a file of ``scripts/`` or an absolute path."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *torchrun_args,
        str(SCRIPTS / script),
        *args,
    ]


def start(command: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """Starts ``command`` in its own session (so a timeout kills it with its workers)."""
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float, what: str) -> tuple[int, str, float]:
    """Waits for ``process``; (return code, output, seconds waited). Fails the test on timeout."""
    began = time.monotonic()
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # a worker in its own session still holds the pipe
            output = "(no output: a worker outlived the launcher and holds its output pipe)"
        pytest.fail(f"{what} did not finish within {timeout} s:\n{output[-6000:]}")
    return process.returncode, output, time.monotonic() - began


def torchrun(
    nproc: int, script: str, *args: str, cwd: Path, timeout: float = 180, **torchrun_options: str
) -> tuple[int, str]:
    """``torchrun --nproc-per-node nproc [--option value ...] script args``: (code, output)."""
    options = ["--nproc-per-node", str(nproc)]
    for name, value in torchrun_options.items():
        options += [f"--{name.replace('_', '-')}", value]
    if "rdzv_endpoint" not in torchrun_options:
        options += ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    process = start(torchrun_command(options, script, *args), cwd, clean_env())
    code, output, _ = finish(process, timeout, f"torchrun {script}")
    return code, output


def two_agents(
    script: str, outs: Sequence[Path], *args: str, timeout: float = 240
) -> list[tuple[int, str, float]]:
    """Two torchrun agents of one process each, as on two machines (``--nnodes 2``, c10d
    rendezvous on this host); agent ``i`` runs ``script outs[i] args`` in ``outs[i]`` and keeps
    its workers' output under ``outs[i]/torchrun_logs``. (code, output, seconds) per agent."""
    endpoint = f"127.0.0.1:{free_port()}"
    processes = []
    for out in outs:
        options = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
        options += ["--rdzv-endpoint", endpoint, "--rdzv-id", "two-agents", "--max-restarts", "0"]
        options += ["--log-dir", str(out / "torchrun_logs"), "--tee", "3"]
        command = torchrun_command(options, script, str(out), *args)
        processes.append(start(command, out, clean_env()))
    return [finish(process, timeout, f"torchrun agent {i}") for i, process in enumerate(processes)]
