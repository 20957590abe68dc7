"""Collectives that also work in a single process (``mmengine.dist.dist``).

Without an initialised process group (or with a world of one process), each function returns
what the one process alone would: ``all_gather(x) == [x]``, ``all_reduce`` leaves ``x`` as is,
``collect_results(r, n) == r[:n]``.
"""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as torch_dist

from torchrig.dist.utils import (
    barrier,
    cast_data_device,
    get_backend,
    get_comm_device,
    get_default_group,
    get_dist_info,
    get_rank,
    get_world_size,
)

__all__ = [
    "all_reduce",
    "all_gather",
    "gather",
    "broadcast",
    "sync_random_seed",
    "broadcast_object_list",
    "all_reduce_dict",
    "all_reduce_params",
    "all_gather_object",
    "gather_object",
    "collect_results",
    "collect_results_cpu",
    "collect_results_gpu",
]

_REDUCE_OPS = {
    "sum": "SUM",
    "product": "PRODUCT",
    "min": "MIN",
    "max": "MAX",
    "band": "BAND",
    "bor": "BOR",
    "bxor": "BXOR",
}


def _reduce_op(name: str) -> Any:
    try:
        return getattr(torch_dist.ReduceOp, _REDUCE_OPS[name.lower()])
    except KeyError:
        raise ValueError(
            f"all_reduce: unknown op {name!r}; use one of {sorted([*_REDUCE_OPS, 'mean'])}"
        ) from None


def _group(group: Any) -> Any:
    return group if group is not None else get_default_group()


def all_reduce(data: torch.Tensor, op: str = "sum", group: Any = None) -> None:
    """Reduce ``data`` over all processes, in place.

    Args:
        data: The tensor to reduce; it keeps its device.
        op: ``'sum'``, ``'mean'``, ``'product'``, ``'min'``, ``'max'``, ``'band'``, ``'bor'``,
            ``'bxor'``.
        group: Process group; the default group if None.
    """
    if op.lower() != "mean":
        reduce_op = _reduce_op(op)
    world_size = get_world_size(group)
    if world_size == 1:
        return
    group = _group(group)
    on_device = cast_data_device(data, get_comm_device(group))
    if op.lower() == "mean":
        torch_dist.all_reduce(on_device, torch_dist.ReduceOp.SUM, group)
        on_device = torch.true_divide(on_device, world_size)
    else:
        torch_dist.all_reduce(on_device, reduce_op, group)
    cast_data_device(on_device, data.device, out=data)


def all_gather(data: torch.Tensor, group: Any = None) -> list[torch.Tensor]:
    """Every process's ``data`` (same shape on every rank), in rank order."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    group = _group(group)
    on_device = cast_data_device(data, get_comm_device(group))
    gathered = [torch.empty_like(on_device) for _ in range(world_size)]
    torch_dist.all_gather(gathered, on_device, group)
    return [t.to(data.device) for t in gathered]


def gather(data: torch.Tensor, dst: int = 0, group: Any = None) -> list[torch.Tensor]:
    """Every process's ``data`` in rank order on rank ``dst``; an empty list elsewhere."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    group = _group(group)
    on_device = cast_data_device(data, get_comm_device(group))
    if get_rank(group) == dst:
        gathered = [torch.empty_like(on_device) for _ in range(world_size)]
    else:
        gathered = []
    torch_dist.gather(on_device, gathered if gathered else None, dst, group)
    return [t.to(data.device) for t in gathered]


def broadcast(data: torch.Tensor, src: int = 0, group: Any = None) -> None:
    """Copy rank ``src``'s ``data`` into every process's ``data``, in place."""
    if get_world_size(group) == 1:
        return
    group = _group(group)
    on_device = cast_data_device(data, get_comm_device(group))
    torch_dist.broadcast(on_device, src, group)
    if on_device is not data:
        cast_data_device(on_device, data.device, out=data)


def sync_random_seed(group: Any = None) -> int:
    """A random seed drawn on rank 0 and shared by every process.

    Samplers use it so that all ranks shuffle alike when no seed was given.
    """
    seed = random.SystemRandom().randint(0, 2**31 - 1)
    if get_world_size(group) == 1:
        return seed
    holder = [seed if get_rank(group) == 0 else None]
    broadcast_object_list(holder, src=0, group=group)
    return int(holder[0])  # type: ignore[arg-type]


def _object_device(group: Any) -> torch.device | None:
    return get_comm_device(group) if get_backend(group) == "nccl" else None


def broadcast_object_list(data: list[Any], src: int = 0, group: Any = None) -> None:
    """Replace ``data``'s items, in place, with rank ``src``'s (picklable objects)."""
    if not isinstance(data, list):
        raise TypeError(f"broadcast_object_list: data must be a list, got {type(data).__name__}")
    if get_world_size(group) == 1:
        return
    group = _group(group)
    torch_dist.broadcast_object_list(data, src, group, device=_object_device(group))


def all_gather_object(data: Any, group: Any = None) -> list[Any]:
    """Every process's picklable ``data``, in rank order."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    gathered: list[Any] = [None] * world_size
    torch_dist.all_gather_object(gathered, data, _group(group))
    return gathered


def gather_object(data: Any, dst: int = 0, group: Any = None) -> list[Any] | None:
    """Every process's picklable ``data`` in rank order on rank ``dst``; None elsewhere."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    group = _group(group)
    if get_backend(group) == "nccl":
        gathered = all_gather_object(data, group)
        return gathered if get_rank(group) == dst else None
    received: list[Any] | None = [None] * world_size if get_rank(group) == dst else None
    torch_dist.gather_object(data, received, dst, group)
    return received


def all_reduce_dict(data: dict[str, torch.Tensor], op: str = "sum", group: Any = None) -> None:
    """``all_reduce`` every tensor of ``data`` in place, in one collective per dtype."""
    if get_world_size(group) == 1:
        return
    keys = sorted(data)  # every rank must pack the tensors in the same order
    by_dtype: dict[torch.dtype, list[str]] = {}
    for key in keys:
        by_dtype.setdefault(data[key].dtype, []).append(key)
    for names in by_dtype.values():
        flat = torch.cat([data[k].reshape(-1) for k in names])
        all_reduce(flat, op=op, group=group)
        for key, piece in zip(names, flat.split([data[k].numel() for k in names])):
            data[key].copy_(piece.view_as(data[key]))


def _buckets(tensors: list[torch.Tensor], bucket_size_mb: int) -> list[list[torch.Tensor]]:
    """``tensors`` grouped by dtype and device, each group cut at ``bucket_size_mb``."""
    limit = bucket_size_mb * 1024 * 1024 if bucket_size_mb > 0 else None
    by_kind: dict[tuple[torch.dtype, torch.device], list[list[torch.Tensor]]] = {}
    sizes: dict[tuple[torch.dtype, torch.device], int] = {}
    for tensor in tensors:
        kind = (tensor.dtype, tensor.device)
        nbytes = tensor.numel() * tensor.element_size()
        buckets = by_kind.setdefault(kind, [[]])
        if limit is not None and buckets[-1] and sizes.get(kind, 0) + nbytes > limit:
            buckets.append([])
            sizes[kind] = 0
        buckets[-1].append(tensor)
        sizes[kind] = sizes.get(kind, 0) + nbytes
    return [bucket for buckets in by_kind.values() for bucket in buckets]


def all_reduce_params(
    params: Iterable[torch.Tensor],
    coalesce: bool = True,
    bucket_size_mb: int = -1,
    op: str = "sum",
    group: Any = None,
) -> None:
    """All-reduce parameters (or any tensors) in place, e.g. ``model.buffers()``.

    Args:
        params: Parameters or tensors; each rank passes the same ones, in the same order.
        coalesce: Reduce the tensors of one dtype flattened together, in as few collectives as
            ``bucket_size_mb`` allows; otherwise one collective per tensor.
        bucket_size_mb: The largest bucket of a coalesced reduction, in MiB; -1 for no limit.
        op: As for :func:`all_reduce` (``'sum'``, ``'mean'``, ...).
        group: Process group; the default group if None.
    """
    if get_world_size(group) == 1:
        return
    tensors = [param.data for param in params]
    if not coalesce:
        for tensor in tensors:
            all_reduce(tensor, op=op, group=group)
        return
    for bucket in _buckets(tensors, bucket_size_mb):
        flat = torch.cat([tensor.reshape(-1) for tensor in bucket])
        all_reduce(flat, op=op, group=group)
        for tensor, piece in zip(bucket, flat.split([t.numel() for t in bucket])):
            tensor.copy_(piece.view_as(tensor))


def _interleave(parts: list[list[Any]], size: int) -> list[Any]:
    """Merge per-rank results as a distributed sampler dealt them: rank 0's first, rank 1's
    first, ..., rank 0's second, ...; keeps genuine ``None`` results; cut at ``size``."""
    ordered: list[Any] = []
    longest = max((len(p) for p in parts), default=0)
    for i in range(longest):
        for part in parts:
            if i < len(part):
                ordered.append(part[i])
    return ordered[:size]


def collect_results(
    results: list[Any], size: int, device: str = "cpu", tmpdir: str | None = None
) -> list[Any] | None:
    """Collect every process's ``results`` on rank 0, ordered as the sampler dealt them.

    Args:
        results: This process's results.
        size: The dataset's length; padding added by the sampler is cut off.
        device: ``'cpu'``: through CPU memory (object collectives over gloo, or the files of
            ``tmpdir``); ``'gpu'`` (or any other device name): through object collectives on
            the backend's device.
        tmpdir: For ``'cpu'``, a directory every rank can reach to pass the results through
            files (MMEngine's way); None sends them over the network, no shared disk needed.

    Returns:
        The ordered results on rank 0; None on the other ranks.
    """
    if device == "cpu":
        return collect_results_cpu(results, size, tmpdir)
    return collect_results_gpu(results, size)


_CPU_GROUPS: dict[int, Any] = {}


def _cpu_group() -> Any:
    """A group of every rank whose collectives run on the CPU: the default one under gloo,
    else a gloo group made (once per default group) beside it."""
    if get_backend() == "gloo":
        return None
    key = id(get_default_group())
    if key not in _CPU_GROUPS:
        _CPU_GROUPS[key] = torch_dist.new_group(backend="gloo")  # every rank calls this
    return _CPU_GROUPS[key]


def collect_results_cpu(
    result_part: list[Any], size: int, tmpdir: str | None = None
) -> list[Any] | None:
    """``collect_results`` through CPU memory, or the files of ``tmpdir`` (see there)."""
    rank, world_size = get_dist_info()
    if world_size == 1:
        return list(result_part[:size])
    if tmpdir is None:
        parts = gather_object(result_part, dst=0, group=_cpu_group())
        return _interleave(parts, size) if parts is not None else None
    os.makedirs(tmpdir, exist_ok=True)
    with open(os.path.join(tmpdir, f"part_{rank}.pkl"), "wb") as f:
        pickle.dump(result_part, f, protocol=pickle.HIGHEST_PROTOCOL)
    barrier()
    if rank != 0:
        return None
    parts = []
    for i in range(world_size):
        path = os.path.join(tmpdir, f"part_{i}.pkl")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"collect_results: {path} (rank {i}'s results) is missing; {tmpdir!r} must be a "
                "directory shared by all ranks (or leave tmpdir/collect_dir unset)"
            )
        with open(path, "rb") as f:
            parts.append(pickle.load(f))
        os.remove(path)
    return _interleave(parts, size)


def collect_results_gpu(result_part: list[Any], size: int) -> list[Any] | None:
    """``collect_results`` through object collectives (see there)."""
    rank, world_size = get_dist_info()
    if world_size == 1:
        return list(result_part[:size])
    parts = gather_object(result_part, dst=0)
    if rank != 0 or parts is None:
        return None
    return _interleave(parts, size)
