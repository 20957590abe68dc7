"""FlexibleRunner in one process, the strategies' configuration and their use without a runner
(the 2-process DDP/FSDP runs are in ``tests/test_distributed/test_strategies.py``)."""

from __future__ import annotations

import importlib.util
import logging
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.distributed.fsdp.wrap import (
    ModuleWrapPolicy,
    size_based_auto_wrap_policy,
    transformer_auto_wrap_policy,
)

from torchrig._strategy import (
    BaseStrategy,
    ColossalAIStrategy,
    DDPStrategy,
    DeepSpeedStrategy,
    FSDPStrategy,
    SingleDeviceStrategy,
)
from torchrig._strategy.fsdp import _translate_wrapper
from torchrig.config import Config
from torchrig.registry import MODELS, RUNNERS, STRATEGIES
from torchrig.runner import FlexibleRunner, Runner
from torchrig.testing import ToyDataset, ToyMetric, ToyModel

_LAUNCHER_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "SLURM_NTASKS", "OMPI_COMM_WORLD_LOCAL_RANK")


@pytest.fixture(autouse=True)
def _not_launched(monkeypatch):
    for name in _LAUNCHER_ENV:
        monkeypatch.delenv(name, raising=False)


def _loader(shuffle: bool) -> dict:
    return dict(
        dataset=ToyDataset(), sampler=dict(type="DefaultSampler", shuffle=shuffle), batch_size=3
    )


def _kwargs(work_dir: Path, **overrides) -> dict:
    kwargs = dict(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=_loader(True),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        param_scheduler=dict(type="MultiStepLR", milestones=[4], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=6, val_interval=3),
        val_dataloader=_loader(False),
        val_evaluator=dict(type=ToyMetric, dummy_metrics=dict(acc=0.5)),
        val_cfg=dict(),
        test_dataloader=_loader(False),
        test_evaluator=dict(type=ToyMetric, dummy_metrics=dict(acc=0.25)),
        test_cfg=dict(),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False)),
        log_level="WARNING",
        randomness=dict(seed=3),
    )
    kwargs.update(overrides)
    return kwargs


def _weights(runner: Runner) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in runner.model.state_dict().items()}


def test_default_strategy_trains_validates_tests_and_is_recorded(tmp_path):
    runner = FlexibleRunner(**_kwargs(tmp_path))
    try:
        assert isinstance(runner, Runner) and isinstance(runner.strategy, SingleDeviceStrategy)
        assert RUNNERS.get("FlexibleRunner") is FlexibleRunner
        start = _weights(runner)
        runner.train()
        assert runner.iter == 6
        assert not torch.equal(_weights(runner)["linear1.weight"], start["linear1.weight"])
        assert runner.val() == {"acc": 0.5} and runner.test() == {"acc": 0.25}
    finally:
        runner.visualizer.close()
    # The strategy took the runner's environment and the config records it.
    assert runner.strategy.rank == 0 and runner.strategy.world_size == 1
    assert runner.strategy.experiment_name == runner.experiment_name
    assert runner.strategy.model is runner.model
    assert runner.cfg.strategy == dict(type="SingleDeviceStrategy")
    dumped = Config.fromfile(str(next(tmp_path.glob("*.py"))))
    assert dumped.strategy == dict(type="SingleDeviceStrategy")


def test_from_cfg_takes_the_strategy_from_the_config(tmp_path):
    MODELS.register_module(module=ToyModel, force=True)
    try:
        cfg = Config(
            dict(
                model=dict(type="ToyModel"),
                work_dir=str(tmp_path),
                strategy=dict(type="SingleDeviceStrategy"),
                log_level="WARNING",
            )
        )
        runner = FlexibleRunner.from_cfg(cfg)
        runner.visualizer.close()
    finally:
        MODELS.module_dict.pop("ToyModel", None)
    assert isinstance(runner, FlexibleRunner)
    assert isinstance(runner.strategy, SingleDeviceStrategy)
    assert "strategy" in cfg  # the caller's config is left as it was


def test_checkpoint_and_resume_through_the_flexible_runner(tmp_path):
    whole = FlexibleRunner(**_kwargs(tmp_path / "whole"))
    try:
        whole.train()
    finally:
        whole.visualizer.close()
    checkpoint = tmp_path / "whole" / "iter_4.pth"
    assert checkpoint.is_file()

    resumed = FlexibleRunner(
        **_kwargs(tmp_path / "resumed", model=ToyModel()), load_from=str(checkpoint), resume=True
    )
    try:
        resumed.train()
    finally:
        resumed.visualizer.close()
    assert resumed.iter == 6
    for key, value in _weights(whole).items():  # bit for bit on the CPU
        assert torch.equal(_weights(resumed)[key], value), key

    # save_checkpoint / load_checkpoint on the runner directly.
    whole.save_checkpoint(str(tmp_path / "manual"), "final.pth")
    fresh = FlexibleRunner(model=ToyModel(), work_dir=str(tmp_path / "fresh"), log_level="WARNING")
    try:
        fresh.load_checkpoint(str(tmp_path / "manual" / "final.pth"), strict=True)
    finally:
        fresh.visualizer.close()
    for key, value in _weights(whole).items():
        assert torch.equal(_weights(fresh)[key], value), key


def test_a_distributed_strategy_outside_a_launcher_says_how_to_launch(tmp_path):
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
        FlexibleRunner(model=ToyModel(), work_dir=str(tmp_path), strategy=dict(type="DDPStrategy"))
    with pytest.raises(RuntimeError, match="SingleDeviceStrategy"):
        FSDPStrategy().resolve_launcher("none")
    assert DDPStrategy().resolve_launcher("slurm") == "slurm"
    assert SingleDeviceStrategy().resolve_launcher("none") == "none"


def test_torchruns_environment_selects_ddp_by_default(monkeypatch):
    assert isinstance(FlexibleRunner.build_strategy(None, "none"), SingleDeviceStrategy)
    assert isinstance(FlexibleRunner.build_strategy(None, "pytorch"), DDPStrategy)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert isinstance(FlexibleRunner.build_strategy(None, "none"), DDPStrategy)
    assert DDPStrategy().resolve_launcher("none") == "pytorch"
    strategy = FSDPStrategy()
    assert FlexibleRunner.build_strategy(strategy) is strategy
    with pytest.raises(TypeError, match="strategy must be"):
        FlexibleRunner.build_strategy("DDPStrategy")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("strategy", "package"),
    [(DeepSpeedStrategy, "deepspeed"), (ColossalAIStrategy, "colossalai")],
)
def test_deepspeed_and_colossalai_name_what_they_need(strategy, package, tmp_path):
    if importlib.util.find_spec(package) is not None:
        with pytest.raises(NotImplementedError, match="PyTorch's own engine"):
            strategy()
        return
    with pytest.raises(ImportError, match=f"needs the '{package}' package.*FSDPStrategy"):
        strategy(zero_optimization=dict(stage=3))
    # Through the config, as MMEngine's examples write it.
    with pytest.raises(ImportError, match=f"'{package}'"):
        FlexibleRunner(
            model=ToyModel(), work_dir=str(tmp_path), strategy=dict(type=strategy.__name__)
        )


def test_model_wrapper_cfg_belongs_in_the_strategy(tmp_path):
    with pytest.raises(TypeError, match="compile must be a bool or a dict"):
        FlexibleRunner(model=ToyModel(), work_dir=str(tmp_path), compile="yes")  # type: ignore[arg-type]
    cfg = dict(model_wrapper_cfg=dict(type="MMDistributedDataParallel"))
    with pytest.raises(ValueError, match="strategy=dict\\(type=..., model_wrapper"):
        FlexibleRunner(model=ToyModel(), work_dir=str(tmp_path), cfg=cfg, log_level="WARNING")


def test_every_strategy_is_registered():
    for cls in (SingleDeviceStrategy, DDPStrategy, FSDPStrategy, DeepSpeedStrategy):
        assert STRATEGIES.get(cls.__name__) is cls and issubclass(cls, BaseStrategy)
    with pytest.raises(TypeError, match="model_wrapper must be a dict"):
        DDPStrategy(model_wrapper="MMDistributedDataParallel")  # type: ignore[arg-type]


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)  # 20 parameters


def _model() -> nn.Module:
    return nn.Sequential(_Block(), nn.Linear(4, 1))  # the Linear: 5 parameters


def _picks(policy) -> list[str]:
    return [name for name, module in _model().named_modules() if name and policy(module)]


def test_fsdp1_wrapper_arguments_translate_to_fsdp2():
    logger = logging.getLogger("test")
    size = partial(size_based_auto_wrap_policy, min_num_params=10)
    cfg = _translate_wrapper(
        dict(
            auto_wrap_policy=size,
            sharding_strategy="SHARD_GRAD_OP",
            use_orig_params=True,
            device_id=0,
            limit_all_gathers=True,
            cpu_offload=type("CPUOffload", (), {"offload_params": True})(),
        ),
        "full",
        logger,
    )
    assert cfg["type"] == "MMFullyShardedDataParallel" and cfg["state_dict_type"] == "full"
    assert cfg["reshard_after_forward"] is False and cfg["cpu_offload"] is True
    assert not {"use_orig_params", "device_id", "limit_all_gathers"} & set(cfg)
    assert _picks(cfg["auto_wrap_policy"]) == ["0", "0.inner"]  # by parameter count

    layer = partial(transformer_auto_wrap_policy, transformer_layer_cls={_Block})
    assert _picks(
        _translate_wrapper(dict(auto_wrap_policy=layer), "full", logger)["auto_wrap_policy"]
    ) == ["0"]
    classes = ModuleWrapPolicy({nn.Linear})
    assert _picks(
        _translate_wrapper(dict(auto_wrap_policy=classes), "full", logger)["auto_wrap_policy"]
    ) == ["0.inner", "1"]
    by_name = dict(type="size_based_auto_wrap_policy", min_num_params=10)
    assert _picks(
        _translate_wrapper(dict(auto_wrap_policy=by_name), "full", logger)["auto_wrap_policy"]
    ) == ["0", "0.inner"]
    own = dict(type="module_classes", classes=["Linear"])  # torchrig's own forms pass through
    assert _translate_wrapper(dict(auto_wrap_policy=own), "full", logger)["auto_wrap_policy"] == own
    with pytest.raises(
        ValueError, match="'torch.distributed.fsdp.wrap.no_such_policy' is not found"
    ):
        _translate_wrapper(dict(auto_wrap_policy=dict(type="no_such_policy")), "full", logger)
    with pytest.raises(ValueError, match="NO_SHARD.*DDPStrategy"):
        _translate_wrapper(dict(sharding_strategy="NO_SHARD"), "full", logger)


def test_fsdp1_mixed_precision_and_state_dict_cfg(caplog):
    logger = logging.getLogger("test_fsdp_strategy")
    mixed = dict(
        param_dtype=torch.bfloat16, reduce_dtype=torch.float32, buffer_dtype=torch.bfloat16
    )
    with caplog.at_level(logging.WARNING, logger="test_fsdp_strategy"):
        cfg = _translate_wrapper(dict(mixed_precision=mixed), "sharded", logger)
    assert cfg["mixed_precision"] == dict(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    assert "buffer_dtype has no FSDP2 counterpart" in caplog.text
    assert FSDPStrategy().state_dict_type == "sharded"  # MMEngine's default 'local'
    assert FSDPStrategy(state_dict_cfg="full").state_dict_type == "full"
    assert (
        FSDPStrategy(state_dict_cfg=dict(state_dict_type="FULL_STATE_DICT")).state_dict_type
        == "full"
    )
    # The wrapper's own state_dict_type wins.
    wrapper = dict(state_dict_type="full")
    assert _translate_wrapper(wrapper, "sharded", logger)["state_dict_type"] == "full"
    with pytest.raises(ValueError, match="state_dict_cfg must be"):
        FSDPStrategy(state_dict_cfg="everything")
    with pytest.raises(ValueError, match="activation_checkpointing"):
        FSDPStrategy(activation_checkpointing=dict(check_fn=None))


def test_fsdp_skip_init_weights_builds_without_initialising():
    MODELS.register_module(module=ToyModel, force=True)
    try:
        model = FSDPStrategy(skip_init_weights=True).build_model(dict(type="ToyModel"))
    finally:
        MODELS.module_dict.pop("ToyModel", None)
    assert isinstance(model, ToyModel) and model.is_init
    assert all(p.device.type == "cpu" for p in model.parameters())
    with pytest.raises(TypeError, match="skip_init_weights must be a bool"):
        FSDPStrategy(skip_init_weights="yes")  # type: ignore[arg-type]


def test_strategy_prepare_save_and_resume_without_a_runner(tmp_path):
    def prepared(work_dir: Path):
        strategy = SingleDeviceStrategy(
            work_dir=str(work_dir), env_kwargs=dict(randomness=dict(seed=5))
        )
        torch.manual_seed(0)
        parts = strategy.prepare(
            ToyModel(),
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
            param_scheduler=dict(type="StepLR", step_size=1, gamma=0.5, by_epoch=False),
            dispatch_kwargs=dict(max_iters=10, max_epochs=1),
        )
        return strategy, *parts

    strategy, model, optim_wrapper, schedulers = prepared(tmp_path / "a")
    assert strategy.seed == 5 and strategy.world_size == 1 and not strategy.distributed
    assert Path(strategy.log_dir).is_dir()
    for _ in range(2):
        loss = model(torch.randn(3, 2), torch.randn(3), mode="loss")["loss"]
        optim_wrapper.update_params(loss)
        for scheduler in schedulers:
            scheduler.step()
    assert optim_wrapper.get_lr()["lr"][0] == pytest.approx(0.025)
    strategy.save_checkpoint(str(tmp_path / "final.pth"), extra_ckpt=dict(meta=dict(iter=2)))

    other, model2, optim2, _ = prepared(tmp_path / "b")
    checkpoint = other.resume(str(tmp_path / "final.pth"))
    assert checkpoint["meta"]["iter"] == 2 and checkpoint["meta"]["seed"] == 5
    for key, value in model.state_dict().items():
        assert torch.equal(model2.state_dict()[key], value), key
    assert optim2.get_lr()["lr"][0] == pytest.approx(0.025)
    momentum = optim_wrapper.optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(optim2.optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)
    with pytest.raises(RuntimeError, match="call prepare"):
        SingleDeviceStrategy(work_dir=str(tmp_path)).model_state_dict()
    with pytest.raises(ValueError, match="param_scheduler needs an optim_wrapper"):
        SingleDeviceStrategy(work_dir=str(tmp_path)).prepare(
            ToyModel(), param_scheduler=dict(type="StepLR")
        )
