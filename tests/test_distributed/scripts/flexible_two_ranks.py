"""Worker for tests/test_distributed/test_strategies.py: run under ``torchrun --nproc-per-node 2``.

The FlexibleRunner with each strategy, ``launcher`` left at ``'none'`` (taken from torchrun's
environment, as MMEngine's examples expect). Each section writes under ``OUT`` (argv[1]):

- ``ddp_strategy``: ``DDPStrategy`` training; final weights.
- ``fsdp_full``: ``FSDPStrategy`` with an FSDP1-style size policy (``functools.partial`` of
  ``size_based_auto_wrap_policy``) and ``state_dict_cfg='full'``: checkpoints every 2
  iterations, then a second FlexibleRunner resumes from iteration 4.
- ``fsdp_local``: the same with ``transformer_auto_wrap_policy`` and MMEngine's default
  ``state_dict_cfg='local'`` (each rank saves its shards).
- ``fsdp_prepare``: ``FSDPStrategy.prepare`` in a hand-written loop, as MMEngine's llama2
  example does, then ``strategy.save_checkpoint``.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.distributed.fsdp.wrap import size_based_auto_wrap_policy, transformer_auto_wrap_policy

sys.path.insert(0, str(Path(__file__).parent))

from _toy import ToyRegression, ToyRegressor, runner_kwargs  # noqa: E402

from torchrig import dist  # noqa: E402
from torchrig.runner import FlexibleRunner  # noqa: E402

BATCH, ITERS = 4, 6


def _kwargs(work_dir: Path, name: str) -> dict:
    kwargs = runner_kwargs(str(work_dir), "none", BATCH, ITERS)
    del kwargs["launcher"]  # FlexibleRunner's default 'none': taken from torchrun
    kwargs["experiment_name"] = name
    return kwargs


def _save_weights(runner: FlexibleRunner, path: Path) -> None:
    state = runner.model.state_dict()  # collective under FSDP: every rank calls it
    if dist.is_main_process():
        state = {key.removeprefix("module."): value.cpu() for key, value in state.items()}
        torch.save(state, path)


def _report(out: Path, name: str, runner: FlexibleRunner) -> None:
    if dist.is_main_process():
        wrapped = sorted(
            n for n, m in runner.model.module.named_modules() if type(m).__name__.startswith("FSDP")
        )
        report = dict(
            strategy=type(runner.strategy).__name__,
            wrapper=type(runner.model).__name__,
            launcher=runner.launcher,
            world_size=runner.world_size,
            strategy_world_size=runner.strategy.world_size,
            fsdp_units=wrapped,
        )
        (out / f"{name}.json").write_text(json.dumps(report))


def ddp_strategy(out: Path) -> None:
    runner = FlexibleRunner(
        **_kwargs(out / "ddp_strategy", "ddp"), strategy=dict(type="DDPStrategy")
    )
    runner.train()
    _save_weights(runner, out / "ddp_strategy_final.pth")
    _report(out, "ddp_strategy", runner)
    runner.visualizer.close()


def _fsdp_runs(out: Path, name: str, strategy: dict) -> None:
    """Train 6 iterations (checkpoints every 2), then resume from iteration 4."""
    kwargs = _kwargs(out / name, name)
    kwargs["default_hooks"] = dict(
        checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False)
    )
    runner = FlexibleRunner(**kwargs, strategy=strategy)
    runner.train()
    _save_weights(runner, out / f"{name}_final.pth")
    _report(out, name, runner)
    runner.visualizer.close()

    resumed = _kwargs(out / f"{name}_resumed", f"{name}_resumed")
    resumed.update(
        default_hooks=dict(checkpoint=None), load_from=str(out / name / "iter_4.pth"), resume=True
    )
    runner = FlexibleRunner(**resumed, strategy=strategy)
    runner.train()
    _save_weights(runner, out / f"{name}_resumed.pth")
    runner.visualizer.close()


def fsdp_full(out: Path) -> None:
    policy = partial(size_based_auto_wrap_policy, min_num_params=9)
    strategy = dict(
        type="FSDPStrategy", model_wrapper=dict(auto_wrap_policy=policy), state_dict_cfg="full"
    )
    _fsdp_runs(out, "fsdp_full", strategy)


def fsdp_local(out: Path) -> None:
    policy = partial(transformer_auto_wrap_policy, transformer_layer_cls={nn.Linear})
    _fsdp_runs(
        out, "fsdp_local", dict(type="FSDPStrategy", model_wrapper=dict(auto_wrap_policy=policy))
    )


def fsdp_prepare(out: Path) -> None:
    from torchrig._strategy import FSDPStrategy

    strategy = FSDPStrategy(
        model_wrapper=dict(
            auto_wrap_policy=dict(type="size_based_auto_wrap_policy", min_num_params=20)
        ),
        state_dict_cfg="full",
        work_dir=str(out / "prepare"),
        env_kwargs=dict(randomness=dict(seed=7)),
    )
    torch.manual_seed(0)
    model, optim_wrapper, schedulers = strategy.prepare(
        ToyRegressor(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05)),
        param_scheduler=[dict(type="StepLR", step_size=1, gamma=0.5, by_epoch=False)],
        dispatch_kwargs=dict(max_iters=3, max_epochs=1),
    )
    data = ToyRegression(24)
    for step in range(3):  # a global batch of 2 x BATCH, each rank its half
        start = 2 * BATCH * step + BATCH * dist.get_rank()
        inputs, targets = data.x[start : start + BATCH], data.y[start : start + BATCH]
        loss = ((model(inputs) - targets) ** 2).mean()
        optim_wrapper.update_params(loss)
        for scheduler in schedulers:
            scheduler.step()
    strategy.save_checkpoint(str(out / "prepare" / "final.pth"))
    state = strategy.model_state_dict()
    if dist.is_main_process():
        torch.save(dict(state), out / "fsdp_prepare_state.pth")
        report = dict(
            wrapper=type(model).__name__,
            lr=optim_wrapper.get_lr()["lr"][0],
            rank=strategy.rank,
            world_size=strategy.world_size,
            log_exists=Path(strategy.log_dir, f"{strategy.timestamp}.log").is_file(),
        )
        (out / "fsdp_prepare.json").write_text(json.dumps(report))


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
