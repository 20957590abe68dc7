"""A 2-process ``torchrun`` job (gloo, CPU) whose Visualizer is created before the Runner (and
before the process group), as the seed's first example does, writes exactly one W&B run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_visualization._readers import read_finished_wandb_run

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from torchrig.testing import ToyDataset, ToyModel
    from torchrig.runner import Runner
    from torchrig.visualization import Visualizer

    work_dir = sys.argv[1]
    # First thing in the script, as in the seed's example: no process group exists yet.
    visualizer = Visualizer.get_instance(
        name="wandb_visualizer",
        vis_backends=[dict(type="WandbVisBackend", init_kwargs=dict(project="torchrun"))],
        save_dir=os.path.join(work_dir, "vis"),
    )
    runner = Runner(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type="DefaultSampler", shuffle=False),
            batch_size=2,
        ),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=6, val_interval=100),
        default_hooks=dict(checkpoint=None, logger=dict(type="LoggerHook", interval=1)),
        visualizer=visualizer,
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
    )
    runner.train()
    visualizer.close()
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_job_with_an_early_visualizer_writes_one_wandb_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    work_dir = tmp_path / "work"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
        and not key.startswith(("MASTER_", "TORCHELASTIC_", "WANDB_"))
    }
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), WANDB_MODE="offline", WANDB_SILENT="true")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    process = subprocess.Popen(
        [*command, str(script), str(work_dir)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun did not finish:\n{output[-6000:]}")
    assert process.returncode == 0, output[-6000:]

    run_files = [p for p in tmp_path.rglob("run-*.wandb") if "latest-run" not in str(p)]
    assert len(run_files) == 1, run_files  # rank 0's only
    run = read_finished_wandb_run(str(run_files[0]))
    assert [row["iter"] for row in run.history if "loss" in row] == list(range(1, 7))
