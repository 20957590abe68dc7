from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.optim import (
    ConstantLR,
    ConstantParamScheduler,
    CosineAnnealingLR,
    CosineRestartLR,
    ExponentialMomentum,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    OptimWrapper,
    OptimWrapperDict,
    PolyLR,
    PolyParamScheduler,
    ReduceOnPlateauLR,
    StepLR,
    StepMomentum,
)
from torchrig.registry import PARAM_SCHEDULERS


def _optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.01)
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)


def _lr(optimizer) -> float:
    return optimizer.param_groups[0]["lr"]


def test_any_parameter_can_be_scheduled():
    optimizer = _optimizer()
    poly = PolyParamScheduler(optimizer, "weight_decay", eta_min=0.002, power=1.0, end=5)
    values = []
    for _ in range(6):
        values.append(optimizer.param_groups[0]["weight_decay"])
        poly.step()
    assert values == pytest.approx([0.01, 0.008, 0.006, 0.004, 0.002, 0.002])
    assert optimizer.param_groups[0]["lr"] == 0.1
    constant = ConstantParamScheduler(_optimizer(), "weight_decay", factor=0.5, end=3)
    assert constant.get_last_value() == [0.005]
    with pytest.raises(KeyError, match="'eps'"):
        PolyParamScheduler(_optimizer(), "eps", end=5)


def test_build_iter_from_epoch_converts_epoch_counts():
    multistep = MultiStepLR.build_iter_from_epoch(
        _optimizer(), milestones=[1, 3], gamma=0.1, begin=0, end=4, epoch_length=10
    )
    assert (multistep.by_epoch, multistep.end) == (False, 40)
    assert multistep.milestones == {10: 1, 30: 1}
    step = StepLR.build_iter_from_epoch(_optimizer(), step_size=2, epoch_length=5)
    assert (step.step_size, step.end) == (10, int(1e9))
    cosine = CosineAnnealingLR.build_iter_from_epoch(
        _optimizer(), T_max=3, begin=1, end=4, epoch_length=5
    )
    assert (cosine.T_max, cosine.begin, cosine.end) == (15, 5, 20)
    restart = CosineRestartLR.build_iter_from_epoch(
        _optimizer(), periods=[1, 2], restart_weights=[1, 1], epoch_length=4
    )
    assert restart.periods == [4, 8]
    one_cycle = OneCycleLR.build_iter_from_epoch(
        _optimizer(), eta_max=0.1, total_steps=2, epoch_length=3
    )
    assert one_cycle.total_steps == 6
    with pytest.raises(ValueError, match="by_epoch=False"):
        StepLR.build_iter_from_epoch(_optimizer(), step_size=1, by_epoch=False, epoch_length=3)


def test_registry_builds_with_convert_to_iter_based():
    optimizer = _optimizer()
    cfg = dict(type="MultiStepLR", milestones=[1, 2], by_epoch=True, convert_to_iter_based=True)
    scheduler = PARAM_SCHEDULERS.build(cfg, default_args=dict(optimizer=optimizer, epoch_length=3))
    assert isinstance(scheduler, MultiStepLR) and not scheduler.by_epoch
    lrs = []
    for _ in range(7):
        lrs.append(_lr(optimizer))
        scheduler.step()
    assert lrs == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001])
    for name in ("ConstantMomentum", "OneCycleParamScheduler", "ReduceOnPlateauLR", "PolyLR"):
        assert PARAM_SCHEDULERS.get(name).__name__ == name


def _scheduler_factories():
    return {
        "constant": lambda o: ConstantLR(o, factor=0.5, end=6),
        "linear": lambda o: LinearLR(o, start_factor=0.1, end=6),
        "multistep": lambda o: MultiStepLR(o, milestones=[2, 5, 5]),
        "cosine": lambda o: CosineAnnealingLR(o, T_max=7, eta_min_ratio=0.1),
        "restart": lambda o: CosineRestartLR(o, periods=[3, 5], restart_weights=[1, 0.5]),
        "poly": lambda o: PolyLR(o, end=9, power=0.9),
        "one_cycle": lambda o: OneCycleLR(o, eta_max=0.5, total_steps=10),
        "plateau": lambda o: ReduceOnPlateauLR(o, patience=0, factor=0.5, cooldown=1),
        "momentum_adam": lambda o: StepMomentum(o, step_size=2, gamma=0.5),
        "momentum_sgd": lambda o: ExponentialMomentum(o, gamma=0.9),
    }


def _advance(scheduler, optimizer, steps: int, start: int = 0) -> list[list[float]]:
    seen = []
    for index in range(start, start + steps):
        if hasattr(scheduler, "need_val_args"):
            scheduler.step()
            scheduler.step(dict(loss=1.0 / (1 + index % 3)))
        else:
            scheduler.step()
        group = optimizer.param_groups[0]
        seen.append([group["lr"], group.get("momentum", 0), *group.get("betas", ())])
    return seen


@pytest.mark.parametrize("name", sorted(_scheduler_factories()))
def test_state_dict_round_trip_weights_only(name, tmp_path):
    factory = _scheduler_factories()[name]
    kind = "adam" if name == "momentum_adam" else "sgd"
    optimizer = _optimizer(kind)
    scheduler = factory(OptimWrapper(optimizer))
    _advance(scheduler, optimizer, 3)
    path = tmp_path / "ckpt.pth"
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, path)
    checkpoint = torch.load(path, weights_only=True)
    assert "optimizer" not in checkpoint["scheduler"]

    restored_optimizer = _optimizer(kind)
    restored = factory(restored_optimizer)  # construction steps once; the state overrides it
    restored_optimizer.load_state_dict(checkpoint["optimizer"])
    restored.load_state_dict(checkpoint["scheduler"])
    assert restored.get_last_value() == scheduler.get_last_value()
    expected = _advance(scheduler, optimizer, 6, start=3)
    assert _advance(restored, restored_optimizer, 6, start=3) == expected
    assert len({tuple(v) for v in expected}) > 1  # the schedule moves after the restore


def test_optim_wrapper_dict_needs_one_scheduler_per_wrapper():
    wrappers = OptimWrapperDict(a=OptimWrapper(_optimizer()), b=OptimWrapper(_optimizer()))
    with pytest.raises(TypeError, match="one scheduler per wrapper"):
        StepLR(wrappers, step_size=2)
    scheduler = StepLR(wrappers["a"], step_size=1, gamma=0.5)
    scheduler.step()
    assert wrappers.get_lr() == {"a.lr": [0.05], "b.lr": [0.1]}


def test_resuming_with_last_step_needs_initial_value():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(_optimizer(), step_size=2, last_step=3)
    optimizer = _optimizer()
    StepLR(optimizer, step_size=2)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5, last_step=3)
    assert scheduler.last_step == 4 and _lr(optimizer) == pytest.approx(0.05)
