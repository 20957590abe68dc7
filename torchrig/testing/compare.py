"""Comparison helpers for tests (MMEngine's ``mmengine.testing.compare``).

As in MMEngine, every ``assert_*`` helper except :func:`assert_allclose` returns a bool for the
caller to ``assert``, so that the test's own assert line shows in the failure.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterable
from runpy import run_path
from typing import Any
from unittest.mock import patch

import torch
from torch import nn

from torchrig.utils.dl_utils.parrots_wrapper import _BatchNorm, _InstanceNorm

__all__ = [
    "assert_allclose",
    "assert_attrs_equal",
    "assert_dict_contains_subset",
    "assert_dict_has_keys",
    "assert_is_norm_layer",
    "assert_keys_equal",
    "assert_params_all_zeros",
    "check_python_script",
]


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str | Callable[[str], str] | None = "",
) -> None:
    """Raises ``AssertionError`` unless ``actual`` and ``expected`` are close.

    As torch's former ``assert_allclose``: the two are turned into tensors (``expected`` with
    ``actual``'s dtype) and compared with :func:`torch.testing.assert_close`, dtypes not checked.

    Args:
        actual: The value computed (a tensor, an array or a number).
        expected: The value expected.
        rtol: Relative tolerance (with ``atol``; both None: chosen by dtype).
        atol: Absolute tolerance.
        equal_nan: NaNs in the same places count as equal.
        msg: Replaces torch's message when given (a string, or a function of it).
    """
    if not isinstance(actual, torch.Tensor):
        actual = torch.as_tensor(actual)
    if not isinstance(expected, torch.Tensor):
        expected = torch.as_tensor(expected, dtype=actual.dtype)
    torch.testing.assert_close(
        actual,
        expected,
        rtol=rtol,
        atol=atol,
        equal_nan=equal_nan,
        check_dtype=False,
        msg=msg or None,
    )


def check_python_script(cmd: str) -> None:
    """Runs a Python script in this process with the given command line, as a test of it.

    Args:
        cmd: ``'path/to/script.py --arg value'`` (a leading ``python`` is dropped; quoting
            as in a shell).
    """
    args = shlex.split(cmd)
    if args and args[0] in ("python", "python3"):
        args = args[1:]
    with patch.object(sys, "argv", args):
        run_path(args[0], run_name="__main__")


def _any(judge_result: Any) -> bool:
    """Whether a comparison's result (a bool, a tensor or an array of them) holds anywhere."""
    if isinstance(judge_result, bool):
        return judge_result
    if hasattr(judge_result, "any"):
        return bool(judge_result.any())
    if isinstance(judge_result, Iterable) and not isinstance(judge_result, (str, bytes)):
        return any(_any(item) for item in judge_result)
    return bool(judge_result)


def assert_dict_contains_subset(dict_obj: dict[Any, Any], expected_subset: dict[Any, Any]) -> bool:
    """Whether ``dict_obj`` holds every key of ``expected_subset`` with an equal value
    (tensors and arrays compared elementwise)."""
    for key, value in expected_subset.items():
        if key not in dict_obj or _any(dict_obj[key] != value):
            return False
    return True


def assert_attrs_equal(obj: Any, expected_attrs: dict[str, Any]) -> bool:
    """Whether ``obj`` has every attribute of ``expected_attrs`` with an equal value."""
    for attr, value in expected_attrs.items():
        if not hasattr(obj, attr) or _any(getattr(obj, attr) != value):
            return False
    return True


def assert_dict_has_keys(obj: dict[str, Any], expected_keys: Iterable[str]) -> bool:
    """Whether ``obj`` has all of ``expected_keys`` (others may be there too)."""
    return set(expected_keys).issubset(set(obj.keys()))


def assert_keys_equal(result_keys: Iterable[str], target_keys: Iterable[str]) -> bool:
    """Whether the two collections hold the same keys, in any order."""
    return set(result_keys) == set(target_keys)


def assert_is_norm_layer(module: nn.Module) -> bool:
    """Whether ``module`` is a batch, instance or group normalization layer."""
    return isinstance(module, (_BatchNorm, _InstanceNorm, nn.GroupNorm))


def assert_params_all_zeros(module: nn.Module) -> bool:
    """Whether ``module``'s ``weight`` (and ``bias``, when it has one) are all zeros."""
    weight = module.weight.data
    weight_zero = bool(weight.allclose(weight.new_zeros(weight.size())))
    bias = getattr(module, "bias", None)
    if bias is None:
        return weight_zero
    return weight_zero and bool(bias.data.allclose(bias.data.new_zeros(bias.data.size())))
