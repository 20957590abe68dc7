"""Seeding and the autocast context."""

from __future__ import annotations

import random

import numpy as np
import torch

from torchrig.runner import autocast, set_random_seed
from torchrig.runner.utils import calc_dynamic_intervals


def test_set_random_seed_seeds_every_generator() -> None:
    assert set_random_seed(5) == 5
    first = (random.random(), np.random.rand(), torch.rand(1))
    set_random_seed(5)
    assert (random.random(), np.random.rand()) == first[:2]
    assert torch.equal(torch.rand(1), first[2])
    drawn = set_random_seed(None)
    assert isinstance(drawn, int)


def test_set_random_seed_deterministic_selects_deterministic_algorithms() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    try:
        set_random_seed(1, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
    finally:
        torch.use_deterministic_algorithms(before)
        torch.backends.cudnn.deterministic = False


def test_calc_dynamic_intervals() -> None:
    assert calc_dynamic_intervals(5) == ([0], [5])
    assert calc_dynamic_intervals(5, [(20, 1), (10, 2)]) == ([0, 10, 20], [5, 2, 1])


def test_autocast_on_cpu() -> None:
    layer = torch.nn.Linear(4, 4)
    with autocast(device_type="cpu", dtype=torch.bfloat16):
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16
    with autocast(device_type="cpu", enabled=False):
        assert layer(torch.ones(1, 4)).dtype == torch.float32
