"""``torchrig.config.config.add_args``: command-line options from a nested dict of defaults."""

from __future__ import annotations

import argparse

from torchrig.config.config import add_args, read_base
from torchrig.config.lazy import read_base as lazy_read_base


def test_add_args_types_each_leaf():
    parser = add_args(
        argparse.ArgumentParser(),
        {"name": "x", "flag": False, "epochs": 2, "lr": 0.1, "opt": {"momentum": 0.9}, "ids": [1]},
    )
    args = parser.parse_args(
        ["--name", "y", "--flag", "--epochs", "3", "--lr", "0.5", "--opt.momentum", "0.8"]
        + ["--ids", "4", "5"]
    )
    assert vars(args) == {
        "name": "y",
        "flag": True,
        "epochs": 3,
        "lr": 0.5,
        "opt.momentum": 0.8,
        "ids": [4, 5],
    }
    assert read_base is lazy_read_base
