from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.optim import (
    AmpOptimWrapper,
    DefaultOptimWrapperConstructor,
    OptimWrapper,
    OptimWrapperDict,
)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.dwconv = nn.Conv2d(4, 4, 3, groups=4, bias=False)
        self.head = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        self.scale = nn.Parameter(torch.ones(4))


def _groups(paramwise_cfg, model=None, **optimizer_kwargs):
    model = model or _Net()
    cfg = dict(optimizer=dict(type="SGD", lr=0.1, weight_decay=1e-2, **optimizer_kwargs))
    wrapper = DefaultOptimWrapperConstructor(cfg, paramwise_cfg)(model)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g["params"][0])]: g for g in wrapper.param_groups}, wrapper


def test_without_paramwise_cfg_one_group():
    model = _Net()
    wrapper = DefaultOptimWrapperConstructor(dict(optimizer=dict(type="SGD", lr=0.1)))(model)
    assert type(wrapper) is OptimWrapper
    assert len(wrapper.param_groups) == 1
    assert len(wrapper.param_groups[0]["params"]) == len(list(model.parameters()))


def test_multipliers_land_in_param_groups():
    groups, _ = _groups(
        dict(
            bias_lr_mult=2.0,
            bias_decay_mult=0.5,
            norm_decay_mult=0.0,
            dwconv_decay_mult=0.1,
            flat_decay_mult=0.3,
        )
    )
    lr, wd = 0.1, 1e-2
    expected = {
        "conv.weight": (lr, wd),
        "conv.bias": (lr * 2, wd * 0.5),
        "bn.weight": (lr, 0.0),
        "bn.bias": (lr, 0.0),  # norm biases keep the base lr
        "dwconv.weight": (lr, wd * 0.1),
        "head.0.weight": (lr, wd),
        "head.0.bias": (lr * 2, wd * 0.5),
        "head.1.weight": (lr, 0.0),
        "head.1.bias": (lr, 0.0),
        "scale": (lr, wd * 0.3),
    }
    assert set(groups) == set(expected)
    for name, (group_lr, group_wd) in expected.items():
        assert groups[name]["lr"] == pytest.approx(group_lr), name
        assert groups[name]["weight_decay"] == pytest.approx(group_wd), name


def test_custom_keys_longest_match_wins():
    groups, _ = _groups(
        dict(
            custom_keys={
                "head": dict(lr_mult=0.1),
                "head.0": dict(lr_mult=0.5, decay_mult=0.0),
            },
            bias_lr_mult=3.0,
        )
    )
    assert groups["head.0.weight"]["lr"] == pytest.approx(0.05)
    assert groups["head.0.weight"]["weight_decay"] == 0.0
    assert groups["head.0.bias"]["lr"] == pytest.approx(0.05)  # custom key beats bias_lr_mult
    assert groups["head.1.weight"]["lr"] == pytest.approx(0.01)
    assert groups["head.1.weight"]["weight_decay"] == pytest.approx(1e-2)
    assert groups["conv.bias"]["lr"] == pytest.approx(0.3)


def test_frozen_parameters_keep_base_settings():
    model = _Net()
    model.conv.bias.requires_grad_(False)
    groups, _ = _groups(dict(bias_lr_mult=2.0), model=model)
    assert groups["conv.bias"]["lr"] == 0.1


def test_bypass_duplicate():
    model = _Net()
    model.head[0].tied = model.scale  # one parameter under two names
    cfg = dict(optimizer=dict(type="SGD", lr=0.1, weight_decay=1e-2))
    with pytest.raises(ValueError, match="more than one parameter group"):
        DefaultOptimWrapperConstructor(cfg, dict(bias_lr_mult=2.0))(model)
    wrapper = DefaultOptimWrapperConstructor(cfg, dict(bias_lr_mult=2.0, bypass_duplicate=True))(
        model
    )
    assert len(wrapper.param_groups) == len(list(model.parameters()))


def test_decay_mult_without_weight_decay_is_an_error():
    with pytest.raises(ValueError, match="weight_decay"):
        DefaultOptimWrapperConstructor(
            dict(optimizer=dict(type="SGD", lr=0.1)), dict(norm_decay_mult=0.0)
        )
    with pytest.raises(KeyError, match="optimizer"):
        DefaultOptimWrapperConstructor(dict(type="OptimWrapper"))


def test_wrapped_model_is_unwrapped():
    class Wrapper(nn.Module):
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

    model = _Net()
    groups, _ = _groups(dict(bias_lr_mult=2.0), model=Wrapper(model))
    assert groups["module.conv.bias"]["lr"] == pytest.approx(0.2)


def test_wrapper_type_and_arguments_from_config():
    cfg = dict(
        type="AmpOptimWrapper",
        dtype="bfloat16",
        optimizer=dict(type="AdamW", lr=1e-3),
        accumulative_counts=2,
        clip_grad=dict(max_norm=1.0),
    )
    wrapper = DefaultOptimWrapperConstructor(cfg)(_Net())
    assert isinstance(wrapper, AmpOptimWrapper)
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    assert wrapper.accumulative_counts == 2
    assert wrapper.clip_grad_kwargs == dict(max_norm=1.0)
    assert not isinstance(wrapper, OptimWrapperDict)
