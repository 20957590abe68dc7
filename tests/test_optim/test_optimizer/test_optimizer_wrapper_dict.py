from __future__ import annotations

import pytest
import torch
from torch import nn

from torchrig.optim import OptimWrapper, OptimWrapperDict


def _wrappers():
    torch.manual_seed(0)
    gen, disc = nn.Linear(2, 2), nn.Linear(2, 1)
    return (
        gen,
        disc,
        OptimWrapperDict(
            generator=OptimWrapper(torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.99))),
            discriminator=OptimWrapper(torch.optim.SGD(disc.parameters(), lr=0.1, momentum=0.9)),
        ),
    )


def test_access_and_prefixed_lr_momentum():
    _, _, wrappers = _wrappers()
    assert list(wrappers.keys()) == ["generator", "discriminator"]
    assert isinstance(wrappers["generator"], OptimWrapper)
    assert "discriminator" in wrappers and len(wrappers) == 2
    assert [name for name, _ in wrappers.items()] == list(wrappers)
    assert wrappers.get_lr() == {"generator.lr": [1e-3], "discriminator.lr": [0.1]}
    assert wrappers.get_momentum() == {
        "generator.momentum": [0.5],
        "discriminator.momentum": [0.9],
    }
    assert set(wrappers.param_groups) == {"generator", "discriminator"}
    with pytest.raises(KeyError, match="has no wrapper 'critic'"):
        wrappers["critic"]


def test_ambiguous_operations_raise():
    gen, _, wrappers = _wrappers()
    loss = gen(torch.ones(1, 2)).sum()
    for call in (
        lambda: wrappers.update_params(loss),
        lambda: wrappers.backward(loss),
        wrappers.step,
        wrappers.zero_grad,
    ):
        with pytest.raises(NotImplementedError, match="one wrapper"):
            call()
    with pytest.raises(NotImplementedError), wrappers.optim_context(gen):
        pass
    with pytest.raises(TypeError, match="OptimWrapper"):
        OptimWrapperDict(generator=torch.optim.SGD(gen.parameters(), lr=0.1))


def test_each_wrapper_steps_and_state_round_trip(tmp_path):
    gen, disc, wrappers = _wrappers()
    wrappers.initialize_count_status(gen, 0, 10)
    for _ in range(2):
        wrappers["generator"].update_params(gen(torch.ones(1, 2)).pow(2).sum())
        wrappers["discriminator"].update_params(disc(torch.ones(1, 2)).pow(2).sum())
    assert wrappers["generator"].inner_count == 2
    assert wrappers["discriminator"].max_counts == 10
    path = tmp_path / "optim.pth"
    torch.save(wrappers.state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert set(state) == {"generator", "discriminator"}

    _, _, restored = _wrappers()
    restored.load_state_dict(state)
    assert restored["generator"].optimizer.state_dict()["state"][0]["step"] == 2
    with pytest.raises(KeyError, match="critic"):
        restored.load_state_dict({"critic": state["generator"]})
