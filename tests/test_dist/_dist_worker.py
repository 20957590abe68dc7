"""Worker run by tests/test_dist/test_dist.py in each of several processes.

Usage: python _dist_worker.py LAUNCHER OUT_DIR. The rank and world come from the launcher's
environment variables; the answers of every collective are written to OUT_DIR/rank{r}.json.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from torchrig import dist


def main() -> None:
    launcher, out_dir = sys.argv[1], sys.argv[2]
    dist.init_dist(launcher, backend="gloo", timeout=60)
    rank, world = dist.get_dist_info()
    answers: dict = {
        "rank": rank,
        "world": world,
        "local_rank": dist.get_local_rank(),
        "local_size": dist.get_local_size(),
        "is_main": dist.is_main_process(),
        "distributed": dist.is_distributed(),
        "comm_device": str(dist.get_comm_device()),
    }
    x = torch.tensor([1.0 + rank, 10.0 * (rank + 1)])
    dist.all_reduce(x)
    answers["all_reduce_sum"] = x.tolist()
    y = torch.tensor([1.0 + rank, 3.0])
    dist.all_reduce(y, op="mean")
    answers["all_reduce_mean"] = y.tolist()
    z = torch.tensor([rank + 5])
    dist.all_reduce(z, op="max")
    answers["all_reduce_max"] = z.tolist()
    answers["all_gather"] = [t.tolist() for t in dist.all_gather(torch.tensor([rank, rank * 2]))]
    answers["gather"] = [t.tolist() for t in dist.gather(torch.tensor([rank + 1]), dst=0)]
    b = torch.tensor([float(rank + 7)])
    dist.broadcast(b, src=1)
    answers["broadcast"] = b.tolist()
    objs = [f"from{rank}", {"rank": rank}] if rank == 0 else [None, None]
    dist.broadcast_object_list(objs, src=0)
    answers["broadcast_object_list"] = objs
    answers["all_gather_object"] = dist.all_gather_object({"r": rank, "s": "x" * rank})
    answers["gather_object"] = dist.gather_object(rank * 3, dst=0)
    answers["seed"] = dist.sync_random_seed()
    d = {"a": torch.tensor([1.0 * rank]), "b": torch.tensor([[2, rank]])}
    dist.all_reduce_dict(d)
    answers["all_reduce_dict"] = {k: v.tolist() for k, v in d.items()}

    @dist.master_only
    def only_main() -> str:
        return "ran"

    answers["master_only"] = only_main()
    # A dataset of 7 items, item 3's result being None (it must survive the ordering).
    # Padded sampler (round_up): rank r holds r, r+2, r+4, r+6 and rank 1's last is item 0 again.
    # Unpadded sampler: rank 0 holds 0, 2, 4, 6 and rank 1 holds 1, 3, 5 (uneven parts).
    size = 7
    padded = (list(range(size)) + [0])[rank::world]
    uneven = list(range(size))[rank::world]

    def results(indices: list[int]) -> list:
        return [None if i == 3 else {"idx": i} for i in indices]

    answers["collect_cpu"] = dist.collect_results(results(padded), size, device="cpu")
    answers["collect_cpu_tmpdir"] = dist.collect_results(
        results(uneven), size, device="cpu", tmpdir=os.path.join(out_dir, "shared")
    )
    answers["collect_gpu"] = dist.collect_results(results(padded), size, device="gpu")
    answers["collect_gpu_uneven"] = dist.collect_results(results(uneven), size, device="gpu")
    dist.barrier()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(answers, f)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
