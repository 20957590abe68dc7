"""Worker run under ``torchrun --nproc-per-node 4`` by tests/test_dist/test_local_group.py.

The 4 processes play 2 machines of 2 (``init_local_group(rank // 2, 2)``); each writes what
``infer_launcher``, the local group and ``all_reduce_params`` gave to ``OUT/rank{r}.json``.
"""

from __future__ import annotations

import json
import sys

import torch
from torch import nn

from torchrig import dist


def main() -> None:
    out = sys.argv[1]
    launcher = dist.infer_launcher()
    dist.init_dist(launcher, backend="gloo", timeout=60)
    rank = dist.get_rank()
    answers: dict = {"launcher": launcher}
    try:
        dist.get_local_group()
    except RuntimeError as err:
        answers["before_init"] = str(err)
    dist.init_local_group(rank // 2, 2)
    local = dist.get_local_group()
    answers["local_rank"] = dist.get_local_rank()
    answers["local_size"] = dist.get_local_size()
    x = torch.tensor([float(rank)])
    dist.all_reduce(x, group=local)
    answers["local_sum"] = x.item()

    model = nn.Linear(2, 3)
    with torch.no_grad():
        for index, param in enumerate(model.parameters()):
            param.fill_(rank + 10 * index)
    model.register_buffer("steps", torch.tensor([rank], dtype=torch.long))
    dist.all_reduce_params(model.parameters())
    dist.all_reduce_params(model.buffers(), coalesce=False, op="max")
    answers["weight"] = model.weight.flatten().tolist()
    answers["bias"] = model.bias.tolist()
    answers["steps"] = model.steps.tolist()
    tensors = [torch.full((300,), float(rank)), torch.full((2, 300), 1.0), torch.ones(3)]
    dist.all_reduce_params(tensors, bucket_size_mb=0.001, op="mean")  # ~1 KiB buckets
    answers["bucketed"] = [t.flatten()[:2].tolist() for t in tensors]
    with open(f"{out}/rank{rank}.json", "w") as stream:
        json.dump(answers, stream)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
