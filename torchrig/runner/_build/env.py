"""The process environment: cuDNN, multiprocessing, distributed init, and its description."""

from __future__ import annotations

import os
import platform
import time
import sys
from typing import Any

import torch

__all__ = [
    "collect_env",
    "elastic_restart_count",
    "format_env",
    "setup_env",
    "synced_timestamp",
    "unique_experiment_name",
]


def _set_multi_processing(
    mp_start_method: str | None = "fork",
    opencv_num_threads: int | None = None,
    distributed: bool = False,
) -> None:
    import multiprocessing

    if mp_start_method and platform.system() != "Windows":
        current = multiprocessing.get_start_method(allow_none=True)
        if current != mp_start_method:
            multiprocessing.set_start_method(mp_start_method, force=True)
    # OpenCV spawns its own threads inside DataLoader workers; only touch it when it is in use.
    cv2 = sys.modules.get("cv2")
    if opencv_num_threads is not None and cv2 is None:
        try:
            import cv2  # type: ignore[import-not-found,no-redef]
        except ImportError:
            cv2 = None
    if cv2 is not None:
        cv2.setNumThreads(0 if opencv_num_threads is None else opencv_num_threads)
    if distributed and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"


def elastic_restart_count() -> int:
    """How often torchrun's elastic agent has restarted this worker group (0: first attempt).

    ``torchrun --max-restarts N`` restarts every worker when one fails, with
    ``TORCHELASTIC_RESTART_COUNT`` counting the attempts; the Runner then resumes from the
    latest checkpoint of its ``work_dir`` by itself.
    """
    value = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"TORCHELASTIC_RESTART_COUNT={value!r} is not a number; it is set by torchrun"
        ) from None


def setup_env(env_cfg: dict[str, Any], launcher: str, distributed: bool) -> tuple[int, int]:
    """Applies ``env_cfg`` and joins the process group when the launcher asks for one.

    Args:
        env_cfg: ``dict(cudnn_benchmark=..., mp_cfg=dict(mp_start_method=...,
            opencv_num_threads=...), dist_cfg=dict(backend=..., timeout=...))``; ``timeout``
            (seconds) bounds every collective, so that ranks waiting on a dead one fail
            instead of hanging; unset, PyTorch's default applies (30 minutes, 10 for NCCL).
        launcher: ``'none'``, ``'pytorch'`` (torchrun), ``'slurm'`` or ``'mpi'``.
        distributed: Whether to initialise ``torch.distributed``.

    Returns:
        ``(rank, world_size)``.
    """
    from torchrig.dist import get_dist_info, init_dist, is_distributed

    if env_cfg.get("cudnn_benchmark"):
        torch.backends.cudnn.benchmark = True
    _set_multi_processing(**env_cfg.get("mp_cfg", {}), distributed=distributed)
    if distributed and not is_distributed():
        dist_cfg = dict(env_cfg.get("dist_cfg", {}))
        if dist_cfg.get("backend") == "nccl" and not torch.cuda.is_available():
            dist_cfg["backend"] = "gloo"  # NCCL needs GPUs; CPU runs talk over gloo
        init_dist(launcher, **dist_cfg)
    return get_dist_info()


def _git_commit(directory: str) -> str | None:
    """The checked-out commit of the repository holding ``directory``, read from ``.git``
    (no ``git`` process is started)."""
    path = os.path.abspath(directory)
    while True:
        git_dir = os.path.join(path, ".git")
        if os.path.isdir(git_dir):
            break
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    try:
        with open(os.path.join(git_dir, "HEAD")) as stream:
            head = stream.read().strip()
        if not head.startswith("ref: "):
            return head[:7] or None
        ref = head[5:]
        ref_file = os.path.join(git_dir, ref)
        if os.path.isfile(ref_file):
            with open(ref_file) as stream:
                return stream.read().strip()[:7] or None
        with open(os.path.join(git_dir, "packed-refs")) as stream:
            for line in stream:
                if line.rstrip().endswith(" " + ref):
                    return line.split()[0][:7]
    except OSError:
        return None
    return None


def collect_env() -> dict[str, Any]:
    """Versions and hardware of this process: python, torch, CUDA, numpy, torchrig, git."""
    import numpy

    from torchrig.version import __version__

    env: dict[str, Any] = {
        "sys.platform": sys.platform,
        "Python": sys.version.replace("\n", ""),
        "PyTorch": torch.__version__,
        "NumPy": numpy.__version__,
        "torchrig": __version__,
        "CUDA available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        env["CUDA"] = torch.version.cuda
        env["GPU"] = ", ".join(
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        )
        env["cuDNN"] = torch.backends.cudnn.version()
    env["CPU threads"] = torch.get_num_threads()
    commit = _git_commit(os.getcwd())
    if commit:
        env["git commit"] = commit
    return env


def format_env(env: dict[str, Any], runtime: dict[str, Any]) -> str:
    """The environment block logged at the start of a run."""
    dash = "-" * 60
    system = "\n".join(f"    {key}: {value}" for key, value in env.items())
    run = "\n".join(f"    {key}: {value}" for key, value in runtime.items())
    return (
        f"\n{dash}\nSystem environment:\n{system}\n\nRuntime environment:\n{run}\n{dash}\n"
    )


def synced_timestamp(distributed: bool) -> str:
    """The run's start time as ``%Y%m%d_%H%M%S``, rank 0's on every rank."""
    now = time.time()
    if distributed:
        from torchrig.dist import broadcast

        stamp = torch.tensor(now, dtype=torch.float64)
        broadcast(stamp)
        now = float(stamp.item())
    return time.strftime("%Y%m%d_%H%M%S", time.localtime(now))


def unique_experiment_name(
    experiment_name: str | None, timestamp: str, cfg_filename: str | None
) -> str:
    """``<name>_<timestamp>`` (the name defaults to the config file's), made unique in the
    process: two runners started in the same second must not share a message hub,
    logger or visualizer."""
    from torchrig.logging import MessageHub

    if experiment_name is not None:
        name = f"{experiment_name}_{timestamp}"
    elif cfg_filename is not None:
        name = f"{os.path.splitext(os.path.basename(cfg_filename))[0]}_{timestamp}"
    else:
        name = timestamp
    unique, count = name, 0
    while MessageHub.check_instance_created(unique):
        count += 1
        unique = f"{name}_{count}"
    return unique
