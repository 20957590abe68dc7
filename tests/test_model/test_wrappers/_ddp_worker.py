"""Worker run by test_model_wrapper.py in each of 2 processes (gloo, CPU).

Usage: python _ddp_worker.py RANK WORLD PORT OUT_DIR. Trains the toy model wrapped in
MMDistributedDataParallel on this rank's share of each batch and saves the results to
OUT_DIR/rank{RANK}.pt. The test imports the model and data helpers from here too.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import torch
from torch import nn

from torchrig.model import BaseModel
from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper

STEPS = 3
BATCH = 8


class ToyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        out = self.fc2(torch.tanh(self.fc1(inputs)))
        if mode == "loss":
            return {"loss": ((out - data_samples) ** 2).mean()}
        return out


class TwoNetModel(BaseModel):
    """A model with its own train_step over two sub-networks, as a GAN has."""

    def __init__(self) -> None:
        super().__init__()
        self.gen = nn.Linear(3, 2)
        self.disc = nn.Linear(2, 1)
        self.frozen = nn.Linear(1, 1).requires_grad_(False)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        return self.disc(self.gen(inputs))

    def train_step(self, data, optim_wrapper):
        data = self.data_preprocessor(data, True)
        with optim_wrapper.optim_context(self):
            loss = ((self.disc(self.gen(data["inputs"])) - data["data_samples"]) ** 2).mean()
        optim_wrapper.update_params(loss)
        return {"loss": loss.detach()}


def build_two_net() -> tuple[TwoNetModel, OptimWrapper]:
    torch.manual_seed(0)
    model = TwoNetModel()
    return model, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))


def build() -> tuple[ToyModel, OptimWrapper]:
    torch.manual_seed(0)
    model = ToyModel()
    return model, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))


def batches() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "inputs": torch.randn(BATCH, 3, generator=generator),
            "data_samples": torch.randn(BATCH, 1, generator=generator),
        }
        for _ in range(STEPS)
    ]


def shard(batch: dict[str, torch.Tensor], index: int, parts: int) -> dict[str, torch.Tensor]:
    size = len(batch["inputs"]) // parts
    return {key: value[index * size : (index + 1) * size] for key, value in batch.items()}


def main() -> None:
    import torch.distributed as dist

    from torchrig.model import MMDistributedDataParallel, is_model_wrapper

    rank, world, port, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=60),
    )
    try:
        results: dict = {}
        model, optim_wrapper = build()
        ddp = MMDistributedDataParallel(model)
        results["is_wrapper"] = is_model_wrapper(ddp)
        for batch in batches():
            log_vars = ddp.train_step(shard(batch, rank, world), optim_wrapper)
        results["last_loss"] = log_vars["loss"]
        results["plain"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        results["val"] = ddp.val_step(shard(batches()[0], rank, world))

        # Gradient accumulation: 2 micro-batches per rank, synchronised only on the second.
        model, _ = build()
        optim_wrapper = OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2
        )
        ddp = MMDistributedDataParallel(model)
        mine = shard(batches()[0], rank, world)
        ddp.train_step(shard(mine, 0, 2), optim_wrapper)
        grads = [torch.zeros_like(model.fc1.weight.grad) for _ in range(world)]
        dist.all_gather(grads, model.fc1.weight.grad)
        results["first_micro_grads_differ"] = not torch.allclose(grads[0], grads[1])
        ddp.train_step(shard(mine, 1, 2), optim_wrapper)
        results["accumulated"] = {k: v.detach().clone() for k, v in model.state_dict().items()}

        # One DDP per trainable sub-network.
        from torchrig.model import MMSeparateDistributedDataParallel

        model, optim_wrapper = build_two_net()
        wrapper = MMSeparateDistributedDataParallel(model)
        results["separate_wrapped"] = [
            isinstance(model.gen, MMDistributedDataParallel),
            isinstance(model.disc, MMDistributedDataParallel),
            isinstance(model.frozen, MMDistributedDataParallel),
        ]
        for batch in batches():
            wrapper.train_step(shard(batch, rank, world), optim_wrapper)
        results["separate"] = {
            k.replace(".module.", "."): v.detach().clone() for k, v in model.state_dict().items()
        }
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
