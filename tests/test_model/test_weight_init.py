from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from torchrig.model import (
    Caffe2XavierInit,
    ConstantInit,
    KaimingInit,
    NormalInit,
    PretrainedInit,
    TruncNormalInit,
    UniformInit,
    XavierInit,
    bias_init_with_prob,
    caffe2_xavier_init,
    constant_init,
    initialize,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    uniform_init,
    xavier_init,
)
from torchrig.registry import WEIGHT_INITIALIZERS


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _big_linear() -> nn.Linear:
    return nn.Linear(200, 300)


def test_constant_init_sets_weight_and_bias():
    layer = nn.Conv2d(3, 4, 3)
    constant_init(layer, 0.5, bias=-1.0)
    assert torch.all(layer.weight == 0.5)
    assert torch.all(layer.bias == -1.0)
    no_bias = nn.Linear(2, 2, bias=False)
    constant_init(no_bias, 2.0, bias=1.0)  # a missing bias is skipped
    assert torch.all(no_bias.weight == 2.0)


def test_xavier_init_bounds_and_spread():
    layer = _big_linear()
    xavier_init(layer, gain=2.0, bias=0.1, distribution="uniform")
    bound = 2.0 * math.sqrt(6.0 / (200 + 300))
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.9 * bound
    assert torch.all(layer.bias == 0.1)
    xavier_init(layer, gain=1.0, distribution="normal")
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2.0 / 500), rel=0.05)
    with pytest.raises(ValueError, match="distribution"):
        xavier_init(layer, distribution="cauchy")


def test_normal_trunc_uniform_init():
    layer = _big_linear()
    normal_init(layer, mean=1.0, std=0.5, bias=3.0)
    assert layer.weight.mean().item() == pytest.approx(1.0, abs=0.02)
    assert layer.weight.std().item() == pytest.approx(0.5, rel=0.05)
    assert torch.all(layer.bias == 3.0)
    trunc_normal_init(layer, mean=0.0, std=1.0, a=-0.5, b=0.25)
    assert layer.weight.min() >= -0.5 and layer.weight.max() <= 0.25
    assert layer.weight.min() < -0.45 and layer.weight.max() > 0.2
    uniform_init(layer, a=2.0, b=3.0, bias=-2.0)
    assert layer.weight.min() >= 2.0 and layer.weight.max() <= 3.0
    assert layer.weight.mean().item() == pytest.approx(2.5, abs=0.02)
    assert torch.all(layer.bias == -2.0)


def test_kaiming_and_caffe2_xavier_init():
    layer = _big_linear()  # fan_in 200, fan_out 300
    kaiming_init(layer, mode="fan_out", nonlinearity="relu", bias=0.2)
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2.0 / 300), rel=0.05)
    assert torch.all(layer.bias == 0.2)
    kaiming_init(layer, mode="fan_in", distribution="uniform")
    assert layer.weight.abs().max() <= math.sqrt(6.0 / 200)
    caffe2_xavier_init(layer)
    # leaky_relu with a=1 has gain 1: U(-sqrt(3/fan_in), sqrt(3/fan_in)).
    bound = math.sqrt(3.0 / 200)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound


def test_bias_init_with_prob():
    bias = bias_init_with_prob(0.01)
    assert torch.sigmoid(torch.tensor(bias)).item() == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("short", "cls"),
    [
        ("Constant", ConstantInit),
        ("Xavier", XavierInit),
        ("Normal", NormalInit),
        ("Uniform", UniformInit),
        ("Kaiming", KaimingInit),
        ("TruncNormal", TruncNormalInit),
        ("Caffe2Xavier", Caffe2XavierInit),
        ("Pretrained", PretrainedInit),
    ],
)
def test_initializers_registered_under_both_names(short, cls):
    assert WEIGHT_INITIALIZERS.get(short) is cls
    assert WEIGHT_INITIALIZERS.get(cls.__name__) is cls


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.fc = nn.Linear(3, 3)
        self.head = nn.Linear(3, 2)


def test_initialize_applies_only_to_named_layers():
    net = _Net()
    fc_before = net.fc.weight.clone()
    initialize(net, dict(type="Constant", layer="Conv2d", val=2.0, bias=1.0))
    assert torch.all(net.conv.weight == 2.0) and torch.all(net.conv.bias == 1.0)
    assert torch.equal(net.fc.weight, fc_before)
    initialize(net, [dict(type="ConstantInit", layer=["Linear"], val=3.0, bias_prob=0.5)])
    assert torch.all(net.fc.weight == 3.0) and torch.all(net.head.weight == 3.0)
    assert torch.allclose(net.fc.bias, torch.zeros(3))  # bias for prob 0.5 is 0


def test_layer_matches_base_class_name():
    class MyLinear(nn.Linear):
        pass

    model = nn.Sequential(MyLinear(2, 2))
    initialize(model, dict(type="Constant", layer="Linear", val=4.0))
    assert torch.all(model[0].weight == 4.0)


def test_override_by_name_with_own_or_inherited_arguments():
    net = _Net()
    initialize(
        net,
        dict(
            type="Constant",
            layer=["Conv2d", "Linear"],
            val=1.0,
            bias=2.0,
            override=dict(type="Constant", name="head", val=5.0, bias=6.0),
        ),
    )
    assert torch.all(net.conv.weight == 1.0) and torch.all(net.fc.weight == 1.0)
    assert torch.all(net.head.weight == 5.0) and torch.all(net.head.bias == 6.0)

    # A name alone re-uses the outer config (and covers the whole sub-module, any layer class).
    net = _Net()
    fc_before = net.fc.weight.clone()
    initialize(net, dict(type="Constant", layer="Conv2d", val=7.0, override=dict(name="head")))
    assert torch.all(net.head.weight == 7.0)
    assert torch.equal(net.fc.weight, fc_before)


def test_override_errors():
    net = _Net()
    with pytest.raises(ValueError, match='"name"'):
        initialize(net, dict(type="Constant", layer="Conv2d", val=1, override=dict(val=2)))
    with pytest.raises(ValueError, match='"type"'):
        initialize(net, dict(type="Constant", val=1, override=dict(name="head", val=2)))
    with pytest.raises(RuntimeError, match="'tail'"):
        initialize(net, dict(type="Constant", val=1, override=dict(name="tail")))
    with pytest.raises(TypeError):
        initialize(net, "Constant")
    with pytest.raises(TypeError, match="layer"):
        ConstantInit(val=1, layer=3)


def test_pretrained_loads_state_dict_file(tmp_path):
    source = _Net()
    path = tmp_path / "net.pth"
    torch.save(source.state_dict(), path)
    target = _Net()
    initialize(target, dict(type="Pretrained", checkpoint=str(path)))
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_pretrained_unwraps_checkpoint_and_prefix(tmp_path):
    source = _Net()
    # As saved by a Runner around a DDP-wrapped model: a 'state_dict' entry, 'module.' keys.
    wrapped = {f"module.backbone.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "epoch_1.pth"
    torch.save({"meta": {"epoch": 1}, "state_dict": wrapped}, path)
    target = _Net()
    initialize(target, dict(type="Pretrained", checkpoint=str(path), prefix="backbone"))
    assert torch.equal(target.head.weight, source.head.weight)
    with pytest.raises(KeyError, match="neck"):
        initialize(_Net(), dict(type="Pretrained", checkpoint=str(path), prefix="neck"))


class _Opaque:
    """Not a tensor or plain value: torch.load(weights_only=True) refuses it."""


def test_pretrained_refuses_pickled_objects_and_missing_files(tmp_path):
    path = tmp_path / "unsafe.pth"
    torch.save({"state_dict": _Net().state_dict(), "extra": _Opaque()}, path)
    with pytest.raises(RuntimeError, match="weights_only"):
        initialize(_Net(), dict(type="Pretrained", checkpoint=str(path)))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        initialize(_Net(), dict(type="Pretrained", checkpoint=str(tmp_path / "missing.pth")))


def test_trunc_normal_fills_in_place_within_the_bounds():
    import torch

    from torchrig.model.weight_init import trunc_normal_

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.empty(200, 50))
    returned = trunc_normal_(weight, mean=0.5, std=1.0, a=-1.0, b=2.0)
    assert returned is weight
    assert weight.min() >= -1.0 and weight.max() <= 2.0
    assert abs(weight.mean().item() - 0.5) < 0.05  # symmetric cut around the mean
    from torchrig.model import trunc_normal_ as exported

    assert exported is trunc_normal_
