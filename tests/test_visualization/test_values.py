"""The value helpers: the fast JSON line matches json.dumps."""

from __future__ import annotations

import json

import numpy as np
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
    assert dumps_flat(record) == json.dumps(record, default=str)  # (keys seen: their template)


def test_dumps_flat_template_of_seen_keys_falls_back_where_json_differs():
    # The second row with these keys is formatted from their template; values whose JSON
    # is not their repr (NaN, infinity, numpy and bool subclasses, huge ints) are not.
    keys = ("loss", "100%", "n")
    rng = np.random.default_rng(0)
    values = [0.1, -0.0, 5e-324, 1e300, float("nan"), float("inf"), 10**400, 7, True]
    values += [np.float64(0.25), np.float32(1.5), *rng.standard_normal(20).tolist()]
    for _ in range(300):
        record = dict(zip(keys, rng.choice(np.array(values, dtype=object), 3)))
        assert dumps_flat(record) == json.dumps(record, default=str)
