"""The Runner: building from configs and objects, hooks, metrics, checkpoints, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from torchrig.config import Config
from torchrig.hooks import Hook
from torchrig.registry import DATASETS, METRICS, MODELS, RUNNERS
from torchrig.runner import (
    CheckpointError,
    EpochBasedTrainLoop,
    IterBasedTrainLoop,
    Runner,
)
from torchrig.testing import ToyDataset, ToyMetric, ToyModel


@pytest.fixture(autouse=True)
def _toys():
    MODELS.register_module(module=ToyModel, force=True)
    METRICS.register_module(module=ToyMetric, force=True)
    DATASETS.register_module(module=ToyDataset, force=True)
    yield
    MODELS.module_dict.pop("ToyModel", None)
    METRICS.module_dict.pop("ToyMetric", None)
    DATASETS.module_dict.pop("ToyDataset", None)


def _loader(shuffle: bool = True, sampler: str = "DefaultSampler") -> dict:
    return dict(
        dataset=dict(type="ToyDataset"), sampler=dict(type=sampler, shuffle=shuffle), batch_size=3
    )


def _cfg(work_dir: Path, **overrides: Any) -> dict:
    cfg = dict(
        model=dict(type="ToyModel"),
        work_dir=str(work_dir),
        train_dataloader=_loader(),
        val_dataloader=_loader(False),
        test_dataloader=_loader(False),
        val_evaluator=dict(type="ToyMetric", dummy_metrics=dict(acc=0.5)),
        test_evaluator=[dict(type="ToyMetric", dummy_metrics=dict(acc=0.25))],
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        param_scheduler=dict(type="MultiStepLR", milestones=[1], by_epoch=True),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        val_cfg=dict(),
        test_cfg=dict(),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=1)),
        log_level="WARNING",
        randomness=dict(seed=7),
    )
    cfg.update(overrides)
    return cfg


def _scalars(runner: Runner) -> list[dict]:
    runner.visualizer.flush()
    return [
        json.loads(line)
        for path in sorted(Path(runner.work_dir).rglob("scalars.json"))
        for line in path.read_text().splitlines()
    ]


def test_from_cfg_trains_validates_tests_and_records_metrics(tmp_path: Path) -> None:
    runner = RUNNERS.build(Config(_cfg(tmp_path)))
    assert isinstance(runner, Runner)
    runner.train()
    assert isinstance(runner.train_loop, EpochBasedTrainLoop)
    assert (runner.epoch, runner.iter, runner.max_iters) == (2, 8, 8)
    metrics = runner.test()
    assert metrics == {"acc": 0.25}
    assert runner.message_hub.get_scalar("val/acc").current() == 0.5
    assert runner.message_hub.get_scalar("test/acc").current() == 0.25
    rows = _scalars(runner)
    assert [(row["step"], row["acc"]) for row in rows if "acc" in row] == [(4, 0.5), (8, 0.5)]
    assert [(row["step"], row["test/acc"]) for row in rows if "test/acc" in row] == [(8, 0.25)]
    assert [row["step"] for row in rows if "loss" in row] == list(range(1, 9))
    # The learning rate was scheduled: halved after the first epoch.
    assert [row["lr"] for row in rows if "loss" in row] == pytest.approx([0.1] * 4 + [0.01] * 4)
    # The config was recorded by the trackers and dumped to the work dir.
    assert list(Path(runner.log_dir).rglob("config.py"))
    assert (Path(runner.work_dir) / f"{runner.timestamp}.py").exists()


def test_the_parts_must_come_together(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train_dataloader, train_cfg, optim_wrapper"):
        Runner(**_cfg(tmp_path, optim_wrapper=None))
    runner = Runner(model=ToyModel(), work_dir=str(tmp_path), log_level="WARNING")
    with pytest.raises(RuntimeError, match="cannot train"):
        runner.train()
    with pytest.raises(RuntimeError, match="cannot val"):
        runner.val()


def test_train_cfg_shorthand_and_type_forms(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, train_cfg=dict(by_epoch=False, max_iters=5, val_interval=2))
    cfg["train_dataloader"] = _loader(sampler="InfiniteSampler")
    runner = Runner(**cfg, experiment_name="iter")
    assert isinstance(runner.train_loop, IterBasedTrainLoop)
    runner = Runner(**_cfg(tmp_path, train_cfg=dict(type="IterBasedTrainLoop", max_iters=3)))
    assert isinstance(runner.train_loop, IterBasedTrainLoop) and runner.max_iters == 3
    runner = Runner(
        **_cfg(tmp_path, train_cfg=dict(type="EpochBasedTrainLoop", by_epoch=True, max_epochs=1))
    )
    with pytest.raises(ValueError, match="both 'type' and 'by_epoch'"):
        _ = runner.train_loop


class _Recorder(Hook):
    priority = "HIGHEST"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.state = {"seen": 0}

    def before_train_epoch(self, runner) -> None:
        self.calls.append(f"epoch{runner.epoch}")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.state["seen"] += 1

    def state_dict(self) -> dict:
        return dict(self.state)

    def load_state_dict(self, state: dict) -> None:
        self.state = dict(state)


def test_hooks_are_ordered_by_priority_and_listed(tmp_path: Path) -> None:
    runner = Runner(
        **_cfg(tmp_path, default_hooks=dict(checkpoint=None, timer=dict(type="IterTimerHook")))
    )
    names = [type(hook).__name__ for hook in runner.hooks]
    assert "CheckpointHook" not in names
    assert names[0] == "RuntimeInfoHook"
    first, second = _Recorder(), _Recorder()
    runner.register_hook(first, priority="LOWEST")
    runner.register_hook(second, priority="LOWEST")
    runner.register_hook(dict(type="EMAHook", priority=1))
    assert runner.hooks[-2:] == [first, second]
    assert type(runner.hooks[0]).__name__ == "EMAHook"
    info = runner.get_hooks_info()
    assert "before_train_epoch:" in info and "(LOWEST      ) _Recorder" in info
    assert "after_train_iter:" in info

    class Typo(Hook):
        def after_train_iterr(self, runner) -> None:
            pass

    with pytest.raises(TypeError, match="after_train_iter"):
        runner.register_hook(Typo())


def test_call_hook_reaches_instance_patched_stages(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path))
    hook = Hook()
    seen = []
    hook.before_train = lambda runner: seen.append(runner)
    runner.register_hook(hook)
    runner.call_hook("before_train")
    assert seen == [runner]


@pytest.mark.parametrize("by_epoch", [True, False])
@pytest.mark.parametrize("where", ["instance", "subclass"])
def test_a_call_hook_of_ones_own_sees_every_iteration_stage(
    tmp_path: Path, by_epoch: bool, where: str
) -> None:
    # The train loops call the iteration hooks directly unless call_hook is not torchrig's.
    calls: list[tuple[str, dict]] = []

    class Spying(Runner):
        def call_hook(self, fn_name: str, **kwargs: Any) -> None:
            calls.append((fn_name, kwargs))
            super().call_hook(fn_name, **kwargs)

    train_cfg = dict(by_epoch=True, max_epochs=2) if by_epoch else dict(by_epoch=False, max_iters=8)
    cfg = _cfg(tmp_path, train_cfg=train_cfg, val_dataloader=None, val_cfg=None)
    cfg.pop("val_evaluator")
    if where == "subclass":
        runner = Spying(**cfg)
    else:
        runner = Runner(**cfg)
        original = runner.call_hook
        runner.call_hook = lambda fn_name, **kwargs: (  # type: ignore[method-assign]
            calls.append((fn_name, kwargs)) or original(fn_name, **kwargs)
        )
    runner.train()
    before = [kwargs for name, kwargs in calls if name == "before_train_iter"]
    after = [kwargs for name, kwargs in calls if name == "after_train_iter"]
    assert len(before) == len(after) == 8  # 2 epochs of 4 batches, or 8 iterations
    assert [kwargs["batch_idx"] for kwargs in before] == (
        [0, 1, 2, 3, 0, 1, 2, 3] if by_epoch else list(range(8))
    )
    assert all("loss" in kwargs["outputs"] for kwargs in after)


def test_built_from_objects_the_config_describes_them(tmp_path: Path) -> None:
    model = ToyModel()
    loader = DataLoader(ToyDataset(), batch_size=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=optimizer),
        log_level="WARNING",
    )
    cfg = runner.cfg
    assert cfg.model["type"] == "ToyModel" and "Linear(in_features=2" in cfg.model["repr"]
    assert cfg.train_dataloader["batch_size"] == 4
    assert cfg.train_dataloader["dataset"] == dict(type="ToyDataset", length=12)
    assert cfg.optim_wrapper["optimizer"]["type"] == "SGD"
    assert cfg.optim_wrapper["optimizer"]["momentum"] == 0.9
    runner.train()
    text = next(Path(runner.log_dir).rglob("config.py")).read_text()
    assert "ToyModel" in text and "momentum" in text


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path, custom_hooks=[_Recorder()]))
    runner.train()
    checkpoint = torch.load(tmp_path / "epoch_2.pth", weights_only=True)
    assert {
        "meta",
        "state_dict",
        "message_hub",
        "optimizer",
        "param_schedulers",
        "rng",
        "sampler",
        "hook_states",
        "visualizer",
    } <= set(checkpoint)
    assert checkpoint["meta"]["epoch"] == 2 and checkpoint["meta"]["iter"] == 8
    assert checkpoint["meta"]["seed"] == 7 and "model = dict" in checkpoint["meta"]["cfg"]
    assert checkpoint["hook_states"]["_Recorder:0"] == {"seen": 8}
    assert checkpoint["sampler"]["seed"] == 7


def test_resume_true_finds_the_last_checkpoint_and_restores_state(tmp_path: Path) -> None:
    scheduler = dict(type="MultiStepLR", milestones=[1], by_epoch=True, end=2)
    first = Runner(
        **_cfg(
            tmp_path,
            train_cfg=dict(by_epoch=True, max_epochs=1),
            custom_hooks=[_Recorder()],
            param_scheduler=scheduler,
        )
    )
    first.train()
    recorder = _Recorder()
    second = Runner(
        **_cfg(tmp_path, resume=True, custom_hooks=[recorder], param_scheduler=scheduler)
    )
    second.train()
    assert recorder.calls == ["epoch1"]  # epoch 0 was not trained again
    assert recorder.state == {"seen": 8}  # 4 restored + 4 trained
    assert second.iter == 8
    assert second.optim_wrapper.get_lr()["lr"] == [pytest.approx(0.01)]


def test_calling_resume_before_train_continues_exactly(tmp_path: Path) -> None:
    scheduler = [
        dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=6),
        dict(type="MultiStepLR", milestones=[1], by_epoch=True, end=2),
    ]
    whole = Runner(**_cfg(tmp_path / "whole", param_scheduler=scheduler))
    whole.train()
    first = Runner(
        **_cfg(
            tmp_path / "cut", train_cfg=dict(by_epoch=True, max_epochs=1), param_scheduler=scheduler
        )
    )
    first.train()
    second = Runner(**_cfg(tmp_path / "cut2", param_scheduler=scheduler))
    second.resume(str(tmp_path / "cut" / "epoch_1.pth"))
    second.train()
    assert second.iter == whole.iter == 8
    assert second.optim_wrapper.get_lr() == whole.optim_wrapper.get_lr()
    for name, value in whole.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[name], value), name


def test_resume_without_checkpoint_starts_anew(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path, resume=True, train_cfg=dict(by_epoch=True, max_epochs=1)))
    runner.train()
    assert runner.iter == 4


def test_load_from_loads_weights_only(tmp_path: Path) -> None:
    source = Runner(**_cfg(tmp_path / "a", train_cfg=dict(by_epoch=True, max_epochs=1)))
    source.train()
    weights = {k: v.clone() for k, v in source.model.state_dict().items()}
    checkpoint = str(tmp_path / "a" / "epoch_1.pth")
    trained = Runner(**_cfg(tmp_path / "b", load_from=checkpoint))
    trained.val()
    for key, value in weights.items():
        assert torch.equal(trained.model.state_dict()[key], value)
    trained.train()
    assert trained.iter == 8  # loading weights does not resume the loop: 2 whole epochs
    cfg = _cfg(tmp_path / "c", load_from=checkpoint)
    for key in ("train_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        cfg.pop(key)
    tester = Runner(**cfg)
    assert tester.test() == {"acc": 0.25}
    assert tester.iter == 4  # without training, the checkpoint's iteration
    logged = [r for r in _scalars(tester) if "test/acc" in r]
    assert [r["step"] for r in logged] == [4]  # on the training axis, where the weights are from


def test_resuming_from_a_corrupt_or_missing_checkpoint_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "epoch_1.pth"
    bad.write_bytes(b"\x00" * 10)
    runner = Runner(**_cfg(tmp_path, resume=True))
    with pytest.raises(CheckpointError, match="epoch_1.pth"):
        runner.train()
    runner = Runner(**_cfg(tmp_path, resume=True, load_from=str(tmp_path / "gone.pth")))
    with pytest.raises(FileNotFoundError, match="gone.pth"):
        runner.train()


def test_auto_scale_lr(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path, auto_scale_lr=dict(base_batch_size=6, enable=True)))
    assert runner.optim_wrapper.get_lr()["lr"] == [pytest.approx(0.05)]
    runner = Runner(**_cfg(tmp_path, auto_scale_lr=dict(base_batch_size=6, enable=False)))
    assert runner.optim_wrapper.get_lr()["lr"] == [pytest.approx(0.1)]


def test_build_dataloader_does_not_draw_from_the_global_rng(tmp_path: Path) -> None:
    loader = Runner.build_dataloader(
        dict(_loader(), collate_fn=dict(type="default_collate"), num_workers=0), seed=3
    )
    state = torch.get_rng_state()
    batches = [batch["inputs"] for batch in loader]
    assert torch.equal(torch.get_rng_state(), state)
    assert len(batches) == 4 and batches[0].shape == (3, 2)
    same = Runner.build_dataloader(dict(_loader(), collate_fn=dict(type="default_collate")), seed=3)
    assert all(torch.equal(a["inputs"], b) for a, b in zip(same, batches))


def test_val_and_test_only_runner(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    for key in ("train_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        cfg.pop(key)
    runner = Runner(**cfg)
    assert runner.val() == {"acc": 0.5}
    assert runner.test() == {"acc": 0.25}
    assert runner.iter == 0 and runner.train_loop is None


def test_a_failing_run_closes_the_trackers(tmp_path: Path) -> None:
    class Boom(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if runner.iter == 2:
                raise RuntimeError("boom")

    runner = Runner(**_cfg(tmp_path, custom_hooks=[Boom()]))
    with pytest.raises(RuntimeError, match="boom"):
        runner.train()
    rows = [row for row in _scalars(runner) if "loss" in row]
    assert [row["step"] for row in rows] == [1, 2]  # LoggerHook runs after Boom


def test_the_run_is_seeded_and_reproducible(tmp_path: Path) -> None:
    losses = []
    for name in ("a", "b"):
        runner = Runner(**_cfg(tmp_path / name, randomness=dict(seed=11)))
        runner.train()
        losses.append([row["loss"] for row in _scalars(runner) if "loss" in row])
        assert runner.seed == 11
    assert losses[0] == losses[1]
    runner = Runner(**_cfg(tmp_path / "c", randomness=dict(seed=None)))
    assert isinstance(runner.seed, int)


def test_model_wrapper_is_not_used_without_distribution(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path))
    assert isinstance(runner.model, ToyModel)
    assert isinstance(runner.model, nn.Module)


def test_tracker_state_is_restored_first_and_flushed_before_each_checkpoint(
    tmp_path: Path, monkeypatch
) -> None:
    Runner(**_cfg(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))).train()
    saved = torch.load(tmp_path / "epoch_1.pth", weights_only=True)["visualizer"]
    assert "backends" in saved
    calls: list[str] = []

    class SaveSpy(Hook):
        def before_save_checkpoint(self, runner, checkpoint) -> None:
            calls.append("save")

    runner = Runner(**_cfg(tmp_path, resume=True, custom_hooks=[SaveSpy()]))
    visualizer = runner.visualizer
    load, add_config, flush = visualizer.load_state_dict, visualizer.add_config, visualizer.flush
    monkeypatch.setattr(
        visualizer, "load_state_dict", lambda state: (calls.append("load"), load(state))[1]
    )
    monkeypatch.setattr(
        visualizer,
        "add_config",
        lambda cfg, **kw: (calls.append("config"), add_config(cfg, **kw))[1],
    )
    monkeypatch.setattr(
        visualizer, "flush", lambda *a, **kw: (calls.append("flush"), flush(*a, **kw))[1]
    )
    runner.train()
    assert calls[:2] == ["load", "config"]
    assert calls.count("config") == 1
    saves = [i for i, call in enumerate(calls) if call == "save"]
    assert saves and all(calls[i - 1] == "flush" for i in saves)


def test_environment_and_config_are_logged_at_start(tmp_path: Path) -> None:
    runner = Runner(**_cfg(tmp_path, log_level="INFO"))
    log = Path(runner.log_dir, f"{runner.timestamp}.log").read_text()
    assert "System environment" in log and "PyTorch" in log
    assert "Config:" in log and "type='ToyModel'" in log


class _RandomValues(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> float:
        import numpy as np

        return float(np.random.rand())


def test_dataloader_workers_are_seeded_from_the_run_seed() -> None:
    cfg = dict(
        dataset=_RandomValues(),
        sampler=dict(type="DefaultSampler", shuffle=False),
        batch_size=2,
        num_workers=1,
        persistent_workers=True,
        collate_fn=dict(type="default_collate"),
    )
    first = [batch.tolist() for batch in Runner.build_dataloader(dict(cfg), seed=5)]
    again = [batch.tolist() for batch in Runner.build_dataloader(dict(cfg), seed=5)]
    other = [batch.tolist() for batch in Runner.build_dataloader(dict(cfg), seed=6)]
    assert first == again and first != other


def test_compile_from_the_config(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**cfg, cfg=dict(cfg, compile=dict(backend="eager")))
    runner.train()
    assert getattr(runner.model.train_step, "_torchrig_compiled", False)
    assert runner.iter == 4


def test_two_runners_with_the_same_visualizer_name_keep_their_own_runs(tmp_path: Path) -> None:
    visualizer = dict(
        type="Visualizer", name="visualizer", vis_backends=[dict(type="LocalVisBackend")]
    )
    one_epoch = dict(by_epoch=True, max_epochs=1)
    first = Runner(**_cfg(tmp_path / "a", visualizer=visualizer, train_cfg=one_epoch))
    first.train()
    second = Runner(**_cfg(tmp_path / "b", visualizer=visualizer, train_cfg=one_epoch))
    second.train()
    assert first.visualizer is not second.visualizer
    assert list((tmp_path / "a").rglob("scalars.json")) and list(
        (tmp_path / "b").rglob("scalars.json")
    )
    assert all(len(_scalars(r)) > 0 for r in (first, second))
