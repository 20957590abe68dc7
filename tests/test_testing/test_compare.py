"""MMEngine's comparison helpers, on real tensors, modules and a real script."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from torchrig.testing import (
    assert_allclose,
    assert_attrs_equal,
    assert_dict_contains_subset,
    assert_dict_has_keys,
    assert_is_norm_layer,
    assert_keys_equal,
    assert_params_all_zeros,
    check_python_script,
)


def test_assert_allclose():
    assert_allclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7]))
    assert_allclose(torch.tensor([float("nan")]), torch.tensor([float("nan")]))
    with pytest.raises(AssertionError):
        assert_allclose(torch.tensor([1.0]), torch.tensor([1.1]))
    with pytest.raises(AssertionError, match="custom"):
        assert_allclose(torch.tensor([1.0]), torch.tensor([2.0]), msg="custom")
    assert_allclose(torch.tensor([1.0]), torch.tensor([1.05]), rtol=0.1, atol=0)
    assert_allclose(torch.tensor([1.0, 2.0]), [1, 2])  # a list, cast to the tensor's dtype
    assert_allclose(np.array([0.5]), torch.tensor([0.5], dtype=torch.float64))


def test_dict_and_attr_checks():
    data = {"a": 1, "b": torch.tensor([1, 2]), "c": np.array([3.0])}
    assert assert_dict_contains_subset(data, {"a": 1, "b": torch.tensor([1, 2])})
    assert not assert_dict_contains_subset(data, {"b": torch.tensor([1, 3])})
    assert not assert_dict_contains_subset(data, {"z": 1})
    assert assert_dict_has_keys(data, ["a", "c"]) and not assert_dict_has_keys(data, ["x"])
    assert assert_keys_equal(["a", "b"], ("b", "a")) and not assert_keys_equal(["a"], ["a", "b"])

    class Obj:
        x = 1
        y = np.array([1, 2])

    assert assert_attrs_equal(Obj(), {"x": 1, "y": np.array([1, 2])})
    assert not assert_attrs_equal(Obj(), {"x": 2})
    assert not assert_attrs_equal(Obj(), {"missing": 1})


def test_module_checks():
    assert assert_is_norm_layer(nn.BatchNorm2d(2)) and assert_is_norm_layer(nn.GroupNorm(1, 2))
    assert not assert_is_norm_layer(nn.Conv2d(1, 1, 1))
    layer = nn.Linear(2, 2)
    assert not assert_params_all_zeros(layer)
    nn.init.zeros_(layer.weight)
    assert not assert_params_all_zeros(layer)  # the bias is not zero yet
    nn.init.zeros_(layer.bias)
    assert assert_params_all_zeros(layer)
    no_bias = nn.Conv2d(1, 1, 1, bias=False)
    nn.init.zeros_(no_bias.weight)
    assert assert_params_all_zeros(no_bias)


def test_check_python_script_runs_the_script_with_its_arguments(tmp_path):
    out = tmp_path / "out.txt"
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\n"
        "if __name__ == '__main__':\n"
        "    open(sys.argv[2], 'w').write(' '.join(sys.argv[1:]))\n"
    )
    check_python_script(f"python {script} --flag '{out}'")
    assert out.read_text() == f"--flag {out}"
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('broken script')\n")
    with pytest.raises(ValueError, match="broken script"):
        check_python_script(str(bad))
