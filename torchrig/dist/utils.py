"""Process-group set-up and rank helpers (``mmengine.dist.utils``).

Every helper answers as a single process (rank 0 of a world of 1) when no process group has been
initialised, so code written for distributed runs also runs unchanged in one process.
"""

from __future__ import annotations

import atexit
import datetime
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as torch_dist

__all__ = [
    "infer_launcher",
    "init_dist",
    "init_local_group",
    "get_local_group",
    "is_distributed",
    "get_default_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "get_local_rank",
    "get_local_size",
    "get_dist_info",
    "is_main_process",
    "master_only",
    "barrier",
    "get_comm_device",
    "get_data_device",
    "cast_data_device",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_DEFAULT_PORT = "29500"

# The group of this machine's processes, made by ``init_local_group`` (MMEngine keeps the same
# module-level handle; there is one per process).
_LOCAL_PROCESS_GROUP: Any = None


def infer_launcher() -> str:
    """The launcher this process was started by, read from its environment variables.

    Returns:
        ``'pytorch'`` (``WORLD_SIZE`` set, as by torchrun), ``'slurm'`` (``SLURM_NTASKS``, as by
        srun), ``'mpi'`` (``OMPI_COMM_WORLD_LOCAL_RANK``, as by Open MPI's mpirun) or
        ``'none'``; checked in that order, as MMEngine does.
    """
    if "WORLD_SIZE" in os.environ:
        return "pytorch"
    if "SLURM_NTASKS" in os.environ:
        return "slurm"
    if "OMPI_COMM_WORLD_LOCAL_RANK" in os.environ:
        return "mpi"
    return "none"


def _default_backend() -> str:
    return "nccl" if torch.cuda.is_available() else "gloo"


def _as_timedelta(timeout: float | datetime.timedelta | None) -> datetime.timedelta | None:
    if timeout is None or isinstance(timeout, datetime.timedelta):
        return timeout
    return datetime.timedelta(seconds=float(timeout))


def init_dist(
    launcher: str,
    backend: str | None = None,
    timeout: float | datetime.timedelta | None = None,
    **kwargs: Any,
) -> None:
    """Initialise the default process group from a launcher's environment.

    Args:
        launcher: ``'pytorch'`` (``torchrun``: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
            ``MASTER_ADDR``, ``MASTER_PORT``), ``'slurm'`` (``SLURM_PROCID``, ``SLURM_NTASKS``,
            ``SLURM_LOCALID``, ``SLURM_NODELIST``; ``MASTER_ADDR`` defaults to the first node),
            ``'mpi'`` (Open MPI's ``OMPI_COMM_WORLD_*``; ``MASTER_ADDR`` must be set) or
            ``'none'`` (does nothing). Does nothing either when a process group exists.
        backend: ``'nccl'``, ``'gloo'``, ... Defaults to nccl when CUDA is available, else gloo.
        timeout: Collective timeout, in seconds or as a ``timedelta``.
        **kwargs: Passed to ``torch.distributed.init_process_group``; ``port`` sets
            ``MASTER_PORT`` for ``'slurm'`` and ``'mpi'``; ``init_backend`` may only be
            ``'torch'`` (MMEngine's other engines are not supported).

    Raises:
        ValueError: For an unknown launcher.
        KeyError: When the launcher's environment variables are missing.
    """
    if launcher == "none":
        return
    if launcher not in ("pytorch", "slurm", "mpi"):
        raise ValueError(
            f"init_dist: unknown launcher {launcher!r}; use 'pytorch' (torchrun), 'slurm', 'mpi' "
            "or 'none'"
        )
    init_backend = kwargs.pop("init_backend", "torch")
    if init_backend != "torch":
        raise ValueError(f"init_dist: init_backend={init_backend!r} is not supported; use 'torch'")
    if torch_dist.is_initialized():
        return
    backend = backend or _default_backend()
    if timeout is not None:
        kwargs["timeout"] = _as_timedelta(timeout)
    port = kwargs.pop("port", None)
    if launcher == "slurm":
        _set_slurm_env(port)
    elif launcher == "mpi":
        _set_mpi_env(port)
    try:
        local_rank = int(os.environ["LOCAL_RANK"])
    except KeyError as err:
        raise KeyError(
            f"init_dist(launcher={launcher!r}) needs the environment variable {err.args[0]}; "
            "launch with torchrun (or srun for 'slurm')"
        ) from None
    if backend == "nccl" and torch.cuda.is_available():
        torch.cuda.set_device(local_rank % max(torch.cuda.device_count(), 1))
    if launcher == "pytorch" and "store" not in kwargs and "init_method" not in kwargs:
        kwargs.update(_restart_store(kwargs.get("timeout")))
    torch_dist.init_process_group(backend=backend, **kwargs)
    # A process that exits with its group alive can abort in the group's destructor (gloo's
    # threads), failing a finished job; PyTorch asks for destroy_process_group before exit.
    atexit.register(_destroy_process_group)


def _restart_store(timeout: datetime.timedelta | None) -> dict[str, Any]:
    """A store of its own for a worker group that torchrun restarted, else nothing.

    torchrun's agent keeps one TCPStore for all its attempts; the keys the failed attempt's
    process group left there (the peers' addresses) would be read by the new one, whose
    ranks then connect to dead processes. Each attempt gets its own key prefix instead.
    """
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    if restart == "0" or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return {}
    store = torch_dist.TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        is_master=False,
        timeout=timeout or datetime.timedelta(minutes=30),
    )
    return dict(
        store=torch_dist.PrefixStore(f"torchrig/attempt_{restart}", store),
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
    )


def _destroy_process_group() -> None:
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _first_host(nodelist: str) -> str:
    """First host of a SLURM node list such as ``node[03-05,9],gpu1`` (-> ``node03``)."""
    if shutil.which("scontrol"):
        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if out:
            return out[0]
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist)
    if match is None:
        return nodelist
    prefix, ranges = match.groups()
    if ranges is None:
        return prefix
    first = ranges.split(",")[0].split("-")[0]
    return prefix + first


def _set_slurm_env(port: int | str | None) -> None:
    """Translate SLURM's variables into the ones ``init_process_group`` reads."""
    env = os.environ
    try:
        proc_id = int(env["SLURM_PROCID"])
        ntasks = int(env["SLURM_NTASKS"])
        nodelist = env["SLURM_NODELIST"]
    except KeyError as err:
        raise KeyError(
            f"init_dist(launcher='slurm') needs the environment variable {err.args[0]}; "
            "run under srun/sbatch"
        ) from None
    if "SLURM_LOCALID" in env:
        local_rank = int(env["SLURM_LOCALID"])
    else:
        local_rank = proc_id % max(torch.cuda.device_count(), 1)
    nnodes = int(env.get("SLURM_NNODES", env.get("SLURM_JOB_NUM_NODES", "1")))
    per_node = env.get("SLURM_NTASKS_PER_NODE", "")
    local_size = int(per_node) if per_node.isdigit() else max(ntasks // max(nnodes, 1), 1)
    if port is not None:
        env["MASTER_PORT"] = str(port)
    else:
        # Every task must agree on the port, so no per-process free-port search here.
        env.setdefault("MASTER_PORT", _DEFAULT_PORT)
    if "MASTER_ADDR" not in env:
        env["MASTER_ADDR"] = _first_host(nodelist)
    env["WORLD_SIZE"] = str(ntasks)
    env["RANK"] = str(proc_id)
    env["LOCAL_RANK"] = str(local_rank)
    env["LOCAL_WORLD_SIZE"] = str(local_size)


def _set_mpi_env(port: int | str | None) -> None:
    """Translate Open MPI's variables into the ones ``init_process_group`` reads."""
    env = os.environ
    try:
        values = {
            name: env[f"OMPI_COMM_WORLD_{source}"]
            for name, source in (
                ("RANK", "RANK"),
                ("WORLD_SIZE", "SIZE"),
                ("LOCAL_RANK", "LOCAL_RANK"),
            )
        }
    except KeyError as err:
        raise KeyError(
            f"init_dist(launcher='mpi') needs the environment variable {err.args[0]}; run under "
            "mpirun (Open MPI)"
        ) from None
    if "MASTER_ADDR" not in env:
        raise KeyError("init_dist(launcher='mpi') needs MASTER_ADDR (the address of rank 0)")
    if port is not None:
        env["MASTER_PORT"] = str(port)
    else:
        env.setdefault("MASTER_PORT", _DEFAULT_PORT)
    env.update(values)
    if "OMPI_COMM_WORLD_LOCAL_SIZE" in env:
        env["LOCAL_WORLD_SIZE"] = env["OMPI_COMM_WORLD_LOCAL_SIZE"]


def init_local_group(node_rank: int, num_gpus_per_node: int) -> None:
    """Create the process group of this machine's processes (see ``get_local_group``).

    Every process must call it, with the same ``num_gpus_per_node``: creating a group is a
    collective call, so each process creates every machine's group and keeps its own.

    Args:
        node_rank: This machine's rank among the machines.
        num_gpus_per_node: Processes per machine; the ranks ``node_rank * num_gpus_per_node``
            to ``(node_rank + 1) * num_gpus_per_node - 1`` form this machine's group.

    Raises:
        RuntimeError: When the local group exists already, or the world does not divide into
            machines of ``num_gpus_per_node`` processes.
    """
    global _LOCAL_PROCESS_GROUP
    if _LOCAL_PROCESS_GROUP is not None:
        raise RuntimeError("init_local_group: the local process group was created already")
    world_size = get_world_size()
    if num_gpus_per_node <= 0 or world_size % num_gpus_per_node:
        raise RuntimeError(
            f"init_local_group: {world_size} processes do not divide into machines of "
            f"num_gpus_per_node={num_gpus_per_node}"
        )
    for node in range(world_size // num_gpus_per_node):
        ranks = list(range(node * num_gpus_per_node, (node + 1) * num_gpus_per_node))
        group = torch_dist.new_group(ranks)
        if node == node_rank:
            _LOCAL_PROCESS_GROUP = group


def get_local_group() -> Any:
    """The process group of this machine's processes, or None when not distributed.

    Raises:
        RuntimeError: When distributed but ``init_local_group`` has not created it.
    """
    if not is_distributed():
        return None
    if _LOCAL_PROCESS_GROUP is None:
        raise RuntimeError(
            "Local process group is not created, please use `init_local_group` to setup local "
            "process group."
        )
    return _LOCAL_PROCESS_GROUP


def is_distributed() -> bool:
    """Whether a default process group is initialised."""
    return torch_dist.is_available() and torch_dist.is_initialized()


def get_default_group() -> Any:
    """The default process group, or None when not distributed."""
    return torch_dist.distributed_c10d._get_default_group() if is_distributed() else None


def get_backend(group: Any = None) -> str | None:
    """The backend of ``group`` (default group if None), or None when not distributed."""
    if not is_distributed():
        return None
    return str(torch_dist.get_backend(group or get_default_group()))


def get_rank(group: Any = None) -> int:
    """Rank of this process in ``group`` (0 when not distributed)."""
    if not is_distributed():
        return 0
    return torch_dist.get_rank(group or get_default_group())


def get_world_size(group: Any = None) -> int:
    """Number of processes in ``group`` (1 when not distributed)."""
    if not is_distributed():
        return 1
    return torch_dist.get_world_size(group or get_default_group())


def get_local_rank() -> int:
    """Rank of this process on its machine (0 when not distributed)."""
    if not is_distributed():
        return 0
    if _LOCAL_PROCESS_GROUP is not None:
        return torch_dist.get_rank(_LOCAL_PROCESS_GROUP)
    return int(os.environ.get("LOCAL_RANK", get_rank()))


def get_local_size() -> int:
    """Number of processes on this machine (1 when not distributed)."""
    if not is_distributed():
        return 1
    if _LOCAL_PROCESS_GROUP is not None:
        return torch_dist.get_world_size(_LOCAL_PROCESS_GROUP)
    return int(os.environ.get("LOCAL_WORLD_SIZE", get_world_size()))


def get_dist_info(group: Any = None) -> tuple[int, int]:
    """``(rank, world_size)`` of ``group``; ``(0, 1)`` when not distributed."""
    return get_rank(group), get_world_size(group)


def is_main_process(group: Any = None) -> bool:
    """Whether this process is rank 0 of ``group``."""
    return get_rank(group) == 0


def master_only(func: _F) -> _F:
    """Decorate ``func`` so that it runs on rank 0 only (other ranks get None)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_main_process():
            return func(*args, **kwargs)
        return None

    return wrapper  # type: ignore[return-value]


def barrier(group: Any = None) -> None:
    """Wait for every process of ``group``; no-op when not distributed."""
    if get_world_size(group) > 1:
        torch_dist.barrier(group or get_default_group())


def get_comm_device(group: Any = None) -> torch.device:
    """The device tensors must be on for ``group``'s backend (CUDA for NCCL, else CPU)."""
    backend = get_backend(group)
    if backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    if backend == "hccl":
        return torch.device("npu", torch.npu.current_device())  # type: ignore[attr-defined]
    return torch.device("cpu")


def get_data_device(data: Any) -> torch.device:
    """The device of the tensors in ``data`` (a tensor, or a sequence/mapping of them).

    Raises:
        ValueError: When the tensors are on different devices or ``data`` holds none.
    """
    if isinstance(data, torch.Tensor):
        return data.device
    if isinstance(data, Mapping):
        items: Sequence[Any] = list(data.values())
    elif isinstance(data, Sequence) and not isinstance(data, str):
        items = data
    else:
        raise TypeError(f"get_data_device: expected tensors, got {type(data).__name__}")
    devices = {get_data_device(item) for item in items}
    if len(devices) != 1:
        raise ValueError(f"get_data_device: data must be on exactly one device, got {devices}")
    return devices.pop()


def cast_data_device(data: Any, device: torch.device, out: Any = None) -> Any:
    """Copy the tensors in ``data`` to ``device``; with ``out``, copy into ``out`` in place."""
    if isinstance(data, torch.Tensor):
        moved = data if data.device == device else data.to(device)
        if out is not None:
            out.copy_(moved)
            return out
        return moved
    if isinstance(data, Mapping):
        if out is not None:
            for key in data:
                cast_data_device(data[key], device, out[key])
            return out
        return type(data)({k: cast_data_device(v, device) for k, v in data.items()})  # type: ignore[call-arg]
    if isinstance(data, Sequence) and not isinstance(data, str):
        if out is not None:
            for item, target in zip(data, out):
                cast_data_device(item, device, target)
            return out
        return type(data)(cast_data_device(v, device) for v in data)  # type: ignore[call-arg]
    raise TypeError(f"cast_data_device: expected tensors, got {type(data).__name__}")
