from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.optim import (
    CosineAnnealingMomentum,
    ExponentialLR,
    ExponentialMomentum,
    LinearMomentum,
    OptimWrapper,
    ReduceOnPlateauMomentum,
    StepMomentum,
)
from torchrig.optim.scheduler import momentum_scheduler


def _params():
    torch.manual_seed(0)
    return nn.Linear(2, 2).parameters()


def test_sgd_momentum_follows_same_schedule_as_lr():
    optimizer = torch.optim.SGD(_params(), lr=0.9, momentum=0.9)
    momentum = ExponentialMomentum(optimizer, gamma=0.8)
    reference = torch.optim.SGD(_params(), lr=0.9)
    lr = ExponentialLR(reference, gamma=0.8)
    for _ in range(5):
        assert optimizer.param_groups[0]["momentum"] == pytest.approx(
            reference.param_groups[0]["lr"]
        )
        momentum.step()
        lr.step()
    assert optimizer.param_groups[0]["lr"] == 0.9  # the lr is untouched


def test_adam_betas_are_scheduled():
    optimizer = torch.optim.Adam(_params(), lr=1e-3, betas=(0.9, 0.999))
    scheduler = StepMomentum(OptimWrapper(optimizer), step_size=2, gamma=0.5)
    for _ in range(4):
        scheduler.step()
    group = optimizer.param_groups[0]
    assert group["betas"] == pytest.approx((0.225, 0.999))
    assert group["momentum"] == pytest.approx(0.225)
    assert OptimWrapper(optimizer).get_momentum() == {"momentum": [pytest.approx(0.225)]}
    loss = sum(p.sum() for group in optimizer.param_groups for p in group["params"])
    loss.backward()
    optimizer.step()  # Adam still works with the extra key


def test_linear_and_cosine_momentum_and_plateau():
    optimizer = torch.optim.SGD(_params(), lr=0.1, momentum=0.8)
    LinearMomentum(optimizer, start_factor=0.5, end=3)
    assert optimizer.param_groups[0]["momentum"] == pytest.approx(0.4)
    optimizer = torch.optim.SGD(_params(), lr=0.1, momentum=0.8)
    cosine = CosineAnnealingMomentum(optimizer, T_max=4, eta_min=0.4)
    for _ in range(4):
        cosine.step()
    assert optimizer.param_groups[0]["momentum"] == pytest.approx(0.4)
    optimizer = torch.optim.SGD(_params(), lr=0.1, momentum=0.8)
    plateau = ReduceOnPlateauMomentum(optimizer, patience=0, factor=0.5)
    plateau.step(dict(loss=1.0))
    plateau.step(dict(loss=1.0))
    assert optimizer.param_groups[0]["momentum"] == pytest.approx(0.4)


def test_optimizer_without_momentum_is_rejected():
    with pytest.raises(ValueError, match="neither 'momentum' nor 'betas'"):
        StepMomentum(torch.optim.Rprop(_params()), step_size=1)


def test_every_momentum_scheduler_is_listed():
    assert len([n for n in momentum_scheduler.__all__ if n.endswith("Momentum")]) == 9
