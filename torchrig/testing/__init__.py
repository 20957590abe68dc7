"""Test helpers for users: a runner test case with a toy model, dataset and metric, and
MMEngine's comparison helpers (``assert_allclose``, ``assert_dict_has_keys``, ...).

Importing this package does not register the toy parts; ``RunnerTestCase.setUp`` does.
"""

from __future__ import annotations

from torchrig.testing.compare import (
    assert_allclose,
    assert_attrs_equal,
    assert_dict_contains_subset,
    assert_dict_has_keys,
    assert_is_norm_layer,
    assert_keys_equal,
    assert_params_all_zeros,
    check_python_script,
)
from torchrig.testing.runner_test_case import RunnerTestCase, ToyDataset, ToyMetric, ToyModel

__all__ = [
    "RunnerTestCase",
    "ToyDataset",
    "ToyMetric",
    "ToyModel",
    "assert_allclose",
    "assert_attrs_equal",
    "assert_dict_contains_subset",
    "assert_dict_has_keys",
    "assert_is_norm_layer",
    "assert_keys_equal",
    "assert_params_all_zeros",
    "check_python_script",
]
