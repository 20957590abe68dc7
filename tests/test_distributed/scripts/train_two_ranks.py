"""Worker for tests/test_distributed: run under ``torchrun --nproc-per-node 2`` (gloo, CPU).

One launch checks several things (a launch costs seconds); each section writes its results
under ``OUT`` (argv[1]) for the test to compare with one process:

- ``ddp``: DDP training through the Runner, with a W&B (offline) and a local backend, a
  checkpoint hook, then validation with a metric over an uneven dataset.
- ``collect``: ``collect_results`` through a directory and through object collectives.
- ``fsdp``: FSDP training through the Runner (saves checkpoints), then a second Runner that
  resumes from the iteration-4 checkpoint and trains to the end.
- ``fsdp_sharded``: the same with ``state_dict_type='sharded'`` checkpoints.
- ``fsdp_wrapper``: the FSDP wrapper alone: mixed precision, sharded checkpoint round trip.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _toy import RecordMetrics, ToyRegressor, loader, runner_kwargs, train_val_kwargs  # noqa: E402

from torchrig import dist  # noqa: E402
from torchrig.model.wrappers.fully_sharded_distributed import (  # noqa: E402
    MMFullyShardedDataParallel,
    sharded_to_full_checkpoint,
)
from torchrig.runner import Runner  # noqa: E402

BATCH, ITERS = 4, 6


def _save_weights(runner: Runner, path: Path) -> None:
    state = runner.model.state_dict()  # collective under FSDP: every rank calls it
    if dist.is_main_process():
        state = {key.removeprefix("module."): value.cpu() for key, value in state.items()}
        torch.save(state, path)


def ddp(out: Path) -> None:
    kwargs = train_val_kwargs(str(out / "ddp"), "pytorch", BATCH, ITERS)
    kwargs.update(
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False),
            logger=dict(type="LoggerHook", interval=1),
        ),
        visualizer=dict(
            type="Visualizer",
            vis_backends=[
                dict(type="LocalVisBackend"),
                dict(type="WandbVisBackend", init_kwargs=dict(project="torchrig-dist")),
            ],
        ),
        experiment_name="ddp",
    )
    runner = Runner(**kwargs)
    runner.train()
    _save_weights(runner, out / "ddp_final.pth")
    runner.visualizer.close()
    record = next(hook for hook in runner.hooks if isinstance(hook, RecordMetrics))
    (out / f"ddp_metrics_rank{dist.get_rank()}.json").write_text(json.dumps(record.metrics))


def collect(out: Path) -> None:
    from torchrig.dataset.sampler import DefaultSampler

    sampler = DefaultSampler(list(range(13)), shuffle=False)
    part = [f"item{index}" for index in sampler]
    by_dir = dist.collect_results(part, 13, device="cpu", tmpdir=str(out / "collect_tmp"))
    by_objects = dist.collect_results(part, 13, device="gpu")
    if dist.is_main_process():
        (out / "collect.json").write_text(json.dumps(dict(cpu=by_dir, gpu=by_objects)))


def _fsdp_runs(out: Path, name: str, wrapper_cfg: dict) -> None:
    """Train 6 iterations (checkpoints every 2), then resume from iteration 4 in a new Runner."""
    kwargs = runner_kwargs(str(out / name), "pytorch", BATCH, ITERS)
    kwargs.update(
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False)),
        cfg=dict(model_wrapper_cfg=wrapper_cfg),
        experiment_name=name,
    )
    runner = Runner(**kwargs)
    assert isinstance(runner.model, MMFullyShardedDataParallel), type(runner.model)
    runner.train()
    _save_weights(runner, out / f"{name}_final.pth")
    runner.visualizer.close()

    resumed = runner_kwargs(str(out / f"{name}_resumed"), "pytorch", BATCH, ITERS)
    resumed.update(
        default_hooks=dict(checkpoint=None),
        cfg=dict(model_wrapper_cfg=wrapper_cfg),
        load_from=str(out / name / "iter_4.pth"),
        resume=True,
        experiment_name=f"{name}_resumed",
    )
    runner = Runner(**resumed)
    runner.train()
    _save_weights(runner, out / f"{name}_resumed.pth")
    runner.visualizer.close()


def fsdp(out: Path) -> None:
    _fsdp_runs(out, "fsdp", dict(type="MMFullyShardedDataParallel", auto_wrap_policy=["Linear"]))


def fsdp_sharded(out: Path) -> None:
    wrapper_cfg = dict(
        type="MMFullyShardedDataParallel", auto_wrap_policy=["Linear"], state_dict_type="sharded"
    )
    _fsdp_runs(out, "fsdp_sharded", wrapper_cfg)


def fsdp_wrapper(out: Path) -> None:
    torch.manual_seed(0)
    model = MMFullyShardedDataParallel(
        ToyRegressor(),
        auto_wrap_policy=dict(type="size_based", min_num_params=9),
        mixed_precision=dict(param_dtype="bfloat16", reduce_dtype="float32"),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    data = loader(16, BATCH, shuffle=False)["dataset"][0:4]
    outputs = model(data["inputs"], mode="tensor")
    loss = ((outputs.float() - data["targets"]) ** 2).mean()
    loss.backward()
    optimizer.step()
    report = dict(
        output_dtype=str(outputs.dtype),
        param_dtype=str(next(model.parameters()).dtype),
        wrapped=sorted(
            n for n, m in model.module.named_modules() if type(m).__name__.startswith("FSDP")
        ),
    )
    sharded_dir = str(out / "sharded_ckpt")
    model.save_sharded_checkpoint(sharded_dir, optimizer)
    full_before = model.state_dict()
    optim_before = model.optim_state_dict(optimizer)
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
    model.load_sharded_checkpoint(sharded_dir, optimizer)
    full_after = model.state_dict()
    optim_after = model.optim_state_dict(optimizer)
    if dist.is_main_process():
        report["sharded_roundtrip"] = all(
            torch.equal(full_before[k], full_after[k]) for k in full_before
        )
        report["optim_roundtrip"] = all(
            torch.equal(
                optim_before["state"][name]["exp_avg"], optim_after["state"][name]["exp_avg"]
            )
            for name in optim_before["state"]
        )
        torch.save(full_before, out / "sharded_expected.pth")
        sharded_to_full_checkpoint(sharded_dir, str(out / "sharded_as_full.pth"))
        (out / "fsdp_wrapper.json").write_text(json.dumps(report))
    dist.barrier()


def main() -> None:
    out = Path(sys.argv[1])
    sections = sys.argv[2].split(",")
    dist.init_dist("pytorch", backend="gloo", timeout=60)
    try:
        for name in sections:
            globals()[name](out)
            dist.barrier()
            if dist.is_main_process():
                (out / f"{name}.done").write_text("ok")
    finally:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
