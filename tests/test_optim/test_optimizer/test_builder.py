from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from torchrig.optim import (
    AmpOptimWrapper,
    OptimWrapper,
    OptimWrapperDict,
    build_optim_wrapper,
)
from torchrig.registry import OPTIMIZERS


class _GAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.generator = nn.Linear(2, 2)
        self.discriminator = nn.Linear(2, 1)


def test_every_torch_optimizer_is_registered():
    names = [
        name
        for name in dir(torch.optim)
        if inspect.isclass(getattr(torch.optim, name))
        and issubclass(getattr(torch.optim, name), torch.optim.Optimizer)
        and name not in ("Optimizer", "Adafactor")
    ]
    assert {"SGD", "Adam", "AdamW", "RMSprop", "LBFGS"} <= set(names)
    for name in names:
        assert OPTIMIZERS.get(name) is getattr(torch.optim, name)
    if hasattr(torch.optim, "Adafactor"):
        assert OPTIMIZERS.get("TorchAdafactor") is torch.optim.Adafactor


def test_config_level_optim_wrapper():
    model = _GAN()
    cfg = dict(
        type="OptimWrapper",
        optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-4),
        clip_grad=dict(max_norm=5),
        accumulative_counts=4,
        paramwise_cfg=dict(bias_decay_mult=0.0),
    )
    wrapper = build_optim_wrapper(model, cfg)
    assert type(wrapper) is OptimWrapper
    assert wrapper.accumulative_counts == 4
    assert wrapper.clip_grad_kwargs == dict(max_norm=5)
    assert sorted(g["weight_decay"] for g in wrapper.param_groups) == [0, 0, 1e-4, 1e-4]
    assert "paramwise_cfg" in cfg  # the caller's config is not consumed


def test_amp_wrapper_from_config():
    wrapper = build_optim_wrapper(
        _GAN(), dict(type="AmpOptimWrapper", dtype="float16", optimizer=dict(type="Adam", lr=1e-3))
    )
    assert isinstance(wrapper, AmpOptimWrapper)
    assert wrapper.loss_scaler is not None


def test_built_optimizer_and_built_wrapper():
    model = _GAN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    wrapper = build_optim_wrapper(model, dict(optimizer=optimizer, accumulative_counts=2))
    assert wrapper.optimizer is optimizer and wrapper.accumulative_counts == 2
    assert build_optim_wrapper(model, wrapper) is wrapper


def test_dict_of_sub_configs_builds_optim_wrapper_dict():
    model = _GAN()
    built = OptimWrapper(torch.optim.SGD(model.discriminator.parameters(), lr=0.5))
    wrappers = build_optim_wrapper(
        model,
        dict(
            generator=dict(optimizer=dict(type="Adam", lr=1e-4, betas=(0.5, 0.999))),
            discriminator=built,
        ),
    )
    assert isinstance(wrappers, OptimWrapperDict)
    assert wrappers["discriminator"] is built
    params = wrappers["generator"].param_groups[0]["params"]
    assert {id(p) for p in params} == {id(p) for p in model.generator.parameters()}
    assert wrappers.get_lr() == {"generator.lr": [1e-4], "discriminator.lr": [0.5]}


def test_clear_errors():
    with pytest.raises(KeyError, match="no sub-module 'critic'"):
        build_optim_wrapper(_GAN(), dict(critic=dict(optimizer=dict(type="SGD", lr=0.1))))
    with pytest.raises(KeyError, match="Did you mean 'SGD'"):
        build_optim_wrapper(_GAN(), dict(optimizer=dict(type="SDG", lr=0.1)))
    with pytest.raises(TypeError, match="optim_wrapper"):
        build_optim_wrapper(_GAN(), [dict(type="SGD")])


def test_register_functions_register_what_is_installed(tmp_path, monkeypatch):
    import sys

    import torch

    from torchrig.optim.optimizer import builder
    from torchrig.registry import OPTIMIZERS

    # Not installed here: nothing registered, an empty list.
    for register in (
        builder.register_dadaptation_optimizers,
        builder.register_bitsandbytes_optimizers,
        builder.register_sophia_optimizers,
        builder.register_torch_npu_optimizers,
        builder.register_transformers_optimizers,
    ):
        assert register() == []
    # An installed package (a real module on sys.path) is registered and builds.
    (tmp_path / "lion_pytorch.py").write_text(
        "import torch\nclass Lion(torch.optim.SGD):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert builder.register_lion_optimizers() == ["Lion"]
        params = [torch.nn.Parameter(torch.zeros(2))]
        optimizer = OPTIMIZERS.build(dict(type="Lion", params=params, lr=0.1))
        assert type(optimizer).__name__ == "Lion"
    finally:
        OPTIMIZERS.module_dict.pop("Lion", None)
        sys.modules.pop("lion_pytorch", None)


def test_apex_optim_wrapper_names_apex_when_missing():
    import importlib.util

    import pytest
    import torch

    from torchrig.optim import ApexOptimWrapper
    from torchrig.registry import OPTIM_WRAPPERS

    if importlib.util.find_spec("apex") is not None:
        pytest.skip("apex is installed")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ImportError, match="apex"):
        ApexOptimWrapper(optimizer=optimizer)
    with pytest.raises(ImportError, match="apex"):
        OPTIM_WRAPPERS.build(dict(type="ApexOptimWrapper", optimizer=optimizer))
