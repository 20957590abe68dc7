"""Distributed helpers on ``torch.distributed`` (MMEngine's ``mmengine.dist``).

All of them work without an initialised process group, answering as a single process.
"""

from __future__ import annotations

from torchrig.dist.dist import (
    all_gather,
    all_gather_object,
    all_reduce,
    all_reduce_dict,
    broadcast,
    broadcast_object_list,
    collect_results,
    collect_results_cpu,
    collect_results_gpu,
    gather,
    gather_object,
    sync_random_seed,
)
from torchrig.dist.utils import (
    barrier,
    cast_data_device,
    get_backend,
    get_comm_device,
    get_data_device,
    get_default_group,
    get_dist_info,
    get_local_rank,
    get_local_size,
    get_rank,
    get_world_size,
    init_dist,
    is_distributed,
    is_main_process,
    master_only,
)

__all__ = [
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "all_reduce_dict",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "cast_data_device",
    "collect_results",
    "collect_results_cpu",
    "collect_results_gpu",
    "gather",
    "gather_object",
    "get_backend",
    "get_comm_device",
    "get_data_device",
    "get_default_group",
    "get_dist_info",
    "get_local_rank",
    "get_local_size",
    "get_rank",
    "get_world_size",
    "init_dist",
    "is_distributed",
    "is_main_process",
    "master_only",
    "sync_random_seed",
]
