"""Each LR scheduler against its torch.optim.lr_scheduler counterpart, step by step."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as torch_sched

from torchrig.optim import (
    ConstantLR,
    CosineAnnealingLR,
    CosineRestartLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    OptimWrapper,
    PolyLR,
    ReduceOnPlateauLR,
    StepLR,
)


def _optimizer() -> torch.optim.SGD:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    return torch.optim.SGD(
        [
            {"params": model[0].parameters()},
            {"params": model[1].parameters(), "lr": 0.2},
        ],
        lr=0.05,
        momentum=0.9,
    )


def _lrs(optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


# (ours, torch's, steps); torch's total_iters=T is our end=T+1 (the last step in [begin, end)).
CASES = {
    "constant": (
        lambda o: ConstantLR(o, factor=0.5, end=5),
        lambda o: torch_sched.ConstantLR(o, factor=0.5, total_iters=4),
        10,
    ),
    "linear": (
        lambda o: LinearLR(o, start_factor=0.2, end_factor=0.9, end=6),
        lambda o: torch_sched.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=5),
        12,
    ),
    "exponential": (
        lambda o: ExponentialLR(o, gamma=0.9),
        lambda o: torch_sched.ExponentialLR(o, gamma=0.9),
        15,
    ),
    "step": (
        lambda o: StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch_sched.StepLR(o, step_size=3, gamma=0.5),
        15,
    ),
    "multistep": (
        lambda o: MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        lambda o: torch_sched.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        12,
    ),
    "cosine": (
        lambda o: CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        lambda o: torch_sched.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        35,  # past T_max the cosine rises again, in both
    ),
    "poly": (
        lambda o: PolyLR(o, power=2.0, end=9),
        lambda o: torch_sched.PolynomialLR(o, total_iters=8, power=2.0),
        14,
    ),
    "one_cycle_cos": (
        lambda o: OneCycleLR(o, eta_max=[0.1, 0.3], total_steps=20, pct_start=0.25),
        lambda o: torch_sched.OneCycleLR(
            o, max_lr=[0.1, 0.3], total_steps=20, pct_start=0.25, cycle_momentum=False
        ),
        20,
    ),
    "one_cycle_linear_three_phase": (
        lambda o: OneCycleLR(
            o, eta_max=0.1, end=30, anneal_strategy="linear", three_phase=True, div_factor=10
        ),
        lambda o: torch_sched.OneCycleLR(
            o,
            max_lr=0.1,
            total_steps=30,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10,
            cycle_momentum=False,
        ),
        30,
    ),
    "cosine_restart": (
        lambda o: CosineRestartLR(o, periods=[4, 8, 16], restart_weights=[1, 1, 1], eta_min=1e-3),
        lambda o: torch_sched.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=1e-3),
        28,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(case):
    ours_factory, torch_factory, steps = CASES[case]
    ours_opt, torch_opt = _optimizer(), _optimizer()
    ours, ref = ours_factory(ours_opt), torch_factory(torch_opt)
    seen = set()
    for step in range(steps):
        assert _lrs(ours_opt) == pytest.approx(_lrs(torch_opt), rel=1e-9, abs=1e-12), step
        assert ours.get_last_value() == pytest.approx(ref.get_last_lr(), rel=1e-9, abs=1e-12)
        seen.add(round(_lrs(ours_opt)[0], 12))
        ours_opt.step()
        torch_opt.step()
        ours.step()
        ref.step()
    assert len(seen) > 1  # the schedule did change the lr


def test_accepts_optim_wrapper():
    ours_opt, torch_opt = _optimizer(), _optimizer()
    ours = CosineAnnealingLR(OptimWrapper(ours_opt), T_max=6)
    ref = torch_sched.CosineAnnealingLR(torch_opt, T_max=6)
    for _ in range(6):
        ours_opt.step()
        torch_opt.step()
        ours.step()
        ref.step()
    assert _lrs(ours_opt) == pytest.approx(_lrs(torch_opt))


def test_cosine_eta_min_ratio_matches_torch_eta_min():
    ours_opt, torch_opt = _optimizer(), _optimizer()
    del ours_opt.param_groups[1], torch_opt.param_groups[1]
    ours = CosineAnnealingLR(ours_opt, T_max=8, eta_min_ratio=0.1)
    ref = torch_sched.CosineAnnealingLR(torch_opt, T_max=8, eta_min=0.005)
    for _ in range(8):
        ours_opt.step()
        torch_opt.step()
        ours.step()
        ref.step()
        assert _lrs(ours_opt) == pytest.approx(_lrs(torch_opt))
    with pytest.raises(ValueError, match="not both"):
        CosineAnnealingLR(_optimizer(), T_max=8, eta_min=0.0, eta_min_ratio=0.1)


@pytest.mark.parametrize(
    ("rule", "threshold_rule", "cooldown"), [("less", "rel", 0), ("greater", "abs", 2)]
)
def test_reduce_on_plateau_matches_torch(rule, threshold_rule, cooldown):
    ours_opt, torch_opt = _optimizer(), _optimizer()
    ours = ReduceOnPlateauLR(
        ours_opt,
        monitor="acc",
        rule=rule,
        factor=0.5,
        patience=2,
        threshold=0.01,
        threshold_rule=threshold_rule,
        cooldown=cooldown,
        min_value=[0.01, 0.04],
    )
    ref = torch_sched.ReduceLROnPlateau(
        torch_opt,
        mode="min" if rule == "less" else "max",
        factor=0.5,
        patience=2,
        threshold=0.01,
        threshold_mode=threshold_rule,
        cooldown=cooldown,
        min_lr=[0.01, 0.04],
    )
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 2.0, 2.0, 2.0]
    metrics += [0.1] * 15
    changes = 0
    for value in metrics:
        before = _lrs(ours_opt)
        ours.step()  # the per-epoch call without metrics only counts
        ours.step(dict(acc=value, loss=0.0))
        ref.step(value)
        changes += _lrs(ours_opt) != before
        assert _lrs(ours_opt) == pytest.approx(_lrs(torch_opt))
    assert changes >= 2
    assert _lrs(ours_opt)[0] == pytest.approx(0.01)  # floored at min_value
    with pytest.raises(KeyError, match="monitors 'acc'"):
        ours.step(dict(loss=1.0))


def test_chained_warmup_then_cosine():
    optimizer = _optimizer()
    base = _lrs(optimizer)
    schedulers = [
        LinearLR(optimizer, start_factor=0.1, begin=0, end=5, by_epoch=False),
        CosineAnnealingLR(optimizer, T_max=10, begin=5, end=15, by_epoch=False),
    ]
    for step in range(20):
        if step < 5:
            factor = 0.1 + 0.9 * step / 4
        elif step < 15:
            factor = (1 + math.cos(math.pi * (step - 5) / 10)) / 2
        else:  # after both windows the lr stays where the cosine left it
            factor = (1 + math.cos(math.pi * 9 / 10)) / 2
        assert _lrs(optimizer) == pytest.approx([b * factor for b in base]), step
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()


def test_begin_delays_the_schedule():
    optimizer = _optimizer()
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5, begin=3)
    values = []
    for _ in range(8):
        values.append(_lrs(optimizer)[0])
        scheduler.step()
    assert values == pytest.approx([0.05] * 5 + [0.025] * 2 + [0.0125])


def test_one_cycle_past_total_steps_raises():
    scheduler = OneCycleLR(_optimizer(), eta_max=0.1, total_steps=4)
    for _ in range(4):
        scheduler.step()
    with pytest.raises(ValueError, match="total_steps"):
        scheduler.step()


def test_bad_arguments():
    with pytest.raises(ValueError, match="begin < end"):
        StepLR(_optimizer(), step_size=2, begin=5, end=5)
    with pytest.raises(ValueError, match="factor"):
        ConstantLR(_optimizer(), factor=2.0)
    with pytest.raises(ValueError, match="same length"):
        CosineRestartLR(_optimizer(), periods=[2, 3], restart_weights=[1])
    with pytest.raises(TypeError, match="optimizer"):
        StepLR(nn.Linear(2, 2), step_size=2)
