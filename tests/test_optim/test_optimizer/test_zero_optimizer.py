from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from torchrig.optim import build_optim_wrapper


def test_zero_redundancy_optimizer_single_process(tmp_path):
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        model = nn.Linear(3, 1)
        wrapper = build_optim_wrapper(
            model,
            dict(optimizer=dict(type="ZeroRedundancyOptimizer", optimizer_type="AdamW", lr=0.1)),
        )
        from torchrig.optim import ZeroRedundancyOptimizer

        assert isinstance(wrapper.optimizer, ZeroRedundancyOptimizer)
        assert isinstance(wrapper.optimizer.optim, torch.optim.AdamW)
        before = model.weight.detach().clone()
        wrapper.update_params(model(torch.ones(2, 3)).sum())
        assert not torch.equal(before, model.weight)
        state = wrapper.state_dict()
        assert state["state"][0]["step"] == 1
    finally:
        dist.destroy_process_group()
