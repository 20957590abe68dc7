from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.model import (
    ExponentialMovingAverage,
    MomentumAnnealingEMA,
    StochasticWeightAverage,
)
from torchrig.registry import MODELS


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def _perturb(model: nn.Module, step: int) -> None:
    with torch.no_grad():
        for param in model.parameters():
            param.add_(float(step + 1))
        model[1].running_mean.fill_(10.0 * (step + 1))


def test_ema_matches_hand_computed_over_three_steps():
    model = _model()
    ema = ExponentialMovingAverage(model, momentum=0.1)
    expected = None
    for step in range(3):
        _perturb(model, step)
        ema.update_parameters(model)
        current = model[0].weight.detach().clone()
        # MMEngine's convention: the first update copies, then ema = 0.9 * ema + 0.1 * param.
        expected = current if expected is None else 0.9 * expected + 0.1 * current
    assert torch.allclose(ema.module[0].weight, expected)
    assert int(ema.steps) == 3
    # Buffers are copied, not averaged, without update_buffers.
    assert torch.all(ema.module[1].running_mean == 30.0)
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_interval_and_update_buffers():
    model = _model()
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=2, update_buffers=True)
    values = []
    for step in range(3):
        _perturb(model, step)
        values.append(model[1].running_mean.clone())
        ema.update_parameters(model)
    # Step 0 copies, step 1 is skipped (1 % 2), step 2 averages: 0.5 * 10 + 0.5 * 60.
    assert torch.allclose(ema.module[1].running_mean, 0.5 * values[0] + 0.5 * values[2])
    # The integer counter is copied at step 0 and never averaged.
    assert ema.module[1].num_batches_tracked.dtype == torch.long


def test_ema_follows_its_module_after_a_conversion():
    model = _model()
    ema = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True)
    ema.update_parameters(model)
    ema.double()
    model.double()
    _perturb(model, 0)  # running_mean -> 10
    ema.update_parameters(model)
    assert ema.module[1].running_mean.dtype == torch.float64
    assert torch.all(ema.module[1].running_mean == 5.0)


def test_ema_state_dict_round_trips_through_weights_only_load(tmp_path):
    model = _model()
    ema = ExponentialMovingAverage(model, momentum=0.2)
    for step in range(2):
        _perturb(model, step)
        ema.update_parameters(model)
    path = tmp_path / "ema.pth"
    torch.save(ema.state_dict(), path)
    restored = ExponentialMovingAverage(_model(), momentum=0.2)
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert int(restored.steps) == 2
    for key, value in ema.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value)
    # Both continue identically: the restored one does not redo the first-step copy.
    _perturb(model, 2)
    ema.update_parameters(model)
    restored.update_parameters(model)
    assert torch.equal(restored.module[0].weight, ema.module[0].weight)
    assert not torch.equal(restored.module[0].weight, model[0].weight)


def test_momentum_annealing_ema():
    model = _model()
    ema = MomentumAnnealingEMA(model, momentum=0.01, gamma=2)
    ema.update_parameters(model)
    before = ema.module[0].weight.clone()
    _perturb(model, 0)
    ema.update_parameters(model)  # steps=1: momentum = max(0.01, 2 / 3)
    expected = before + (2 / 3) * (model[0].weight.detach() - before)
    assert torch.allclose(ema.module[0].weight, expected)
    with pytest.raises(ValueError, match="gamma"):
        MomentumAnnealingEMA(model, gamma=0)


def test_stochastic_weight_average_is_a_running_mean():
    model = _model()
    swa = StochasticWeightAverage(model)
    seen = []
    for step in range(3):
        _perturb(model, step)
        seen.append(model[0].weight.detach().clone())
        swa.update_parameters(model)
    assert torch.allclose(swa.module[0].weight, torch.stack(seen).mean(0), atol=1e-6)


def test_ema_built_from_models_registry_and_momentum_checked():
    model = _model()
    ema = MODELS.build(dict(type="ExponentialMovingAverage", model=model, momentum=0.01))
    assert isinstance(ema, ExponentialMovingAverage) and ema.momentum == 0.01
    x = torch.randn(4, 3)
    model.eval()
    ema.eval()
    ema.update_parameters(model)
    assert torch.allclose(ema(x), model(x))
    with pytest.raises(ValueError, match="momentum"):
        ExponentialMovingAverage(model, momentum=1.5)
