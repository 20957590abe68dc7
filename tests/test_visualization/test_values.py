"""The value helpers: the fast JSON line matches json.dumps."""

from __future__ import annotations

import json

import pytest

from torchrig.visualization._values import dumps_flat


@pytest.mark.parametrize(
    "record",
    [
        {"loss": 0.1, "iter": 3, "step": 2**70, "tiny": 5e-324, "neg": -0.0},
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
        {'quo"te\\': 1, "ünï/ködé": 2.5, "tab\t": 0},
        {},
        {"text": "a", "n": 1},
        {"flag": True, "none": None},
        {1: 2.0},
        {"nested": {"a": 1}, "list": [1, 2]},
    ],
)
def test_dumps_flat_is_json_dumps(record):
    assert dumps_flat(record) == json.dumps(record, default=str)
