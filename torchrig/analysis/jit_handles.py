"""Operator handles: the FLOPs or activations of one operator call, from its inputs and outputs.

A handle is called as ``handle(inputs, outputs)``: ``inputs`` are the operator's arguments in the
order of its ATen schema (``aten::_convolution(input, weight, bias, stride, padding, dilation,
transposed, ...)``), ``outputs`` its results. A value may be a tensor, a shape, a Python value or
a TorchScript ``Value`` (as MMEngine's and fvcore's handles receive); :func:`get_shape` reads
the shape of any of them. A handle returns a number, or a ``Counter`` of numbers by name.
As in MMEngine, one fused multiply-add counts as one FLOP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np

__all__ = [
    "addmm_flop_jit",
    "batchnorm_flop_jit",
    "bmm_flop_jit",
    "conv_flop_count",
    "conv_flop_jit",
    "einsum_flop_jit",
    "elementwise_flop_counter",
    "generic_activation_jit",
    "get_shape",
    "linear_flop_jit",
    "matmul_flop_jit",
    "norm_flop_counter",
]

Handle = Callable[[list[Any], list[Any]], Any]


def get_shape(val: Any) -> list[int] | None:
    """The shape of ``val`` as a list of ints, or None when it is not a tensor.

    ``val`` may be a tensor (anything with ``.shape``), a ``torch.Size``/tuple/list of ints,
    or a TorchScript ``Value`` of a complete tensor type.
    """
    if hasattr(val, "isCompleteTensor"):  # a TorchScript graph Value
        return list(val.type().sizes()) if val.isCompleteTensor() else None
    shape = getattr(val, "shape", None)
    if shape is not None:
        return [int(size) for size in shape]
    if isinstance(val, (tuple, list)) and all(isinstance(size, int) for size in val):
        return list(val)
    return None


def _value(val: Any) -> Any:
    """A constant argument's Python value (a TorchScript Value's ``toIValue()``)."""
    return val.toIValue() if hasattr(val, "toIValue") else val


def generic_activation_jit(op_name: str | None = None) -> Handle:
    """A handle counting the elements of the first output (an operator's activations).

    Args:
        op_name: Report the count under this name (a ``Counter``); None returns the number.
    """

    def _generic_activation_jit(inputs: list[Any], outputs: list[Any]) -> Any:
        count = prod(get_shape(outputs[0]) or [0])
        return count if op_name is None else Counter({op_name: count})

    return _generic_activation_jit


def addmm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``addmm(bias, mat1 [N, C], mat2 [C, D])``: N * C * D."""
    shape1, shape2 = get_shape(inputs[1]), get_shape(inputs[2])
    if shape1 is None or shape2 is None or len(shape1) != 2 or len(shape2) != 2:
        raise ValueError(f"addmm_flop_jit: mat1 and mat2 must be 2-D, got {shape1} and {shape2}")
    batch, inner = shape1
    return batch * inner * shape2[-1]


def linear_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``linear(input [..., C], weight [D, C])``: elements of the input times D."""
    input_shape, weight_shape = get_shape(inputs[0]), get_shape(inputs[1])
    if input_shape[-1] != weight_shape[-1]:
        raise ValueError(f"linear_flop_jit: input {input_shape} does not fit weight {weight_shape}")
    return prod(input_shape) * weight_shape[0]


def bmm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``bmm([N, C, T], [N, T, D])``: N * C * T * D."""
    shape1, shape2 = get_shape(inputs[0]), get_shape(inputs[1])
    if len(shape1) != 3 or len(shape2) != 3:
        raise ValueError(f"bmm_flop_jit: both inputs must be 3-D, got {shape1} and {shape2}")
    batch, rows, inner = shape1
    return batch * rows * inner * shape2[-1]


def conv_flop_count(
    x_shape: list[int], w_shape: list[int], out_shape: list[int], transposed: bool = False
) -> int:
    """FLOPs of a convolution: batch * (elements of the weight) * (output positions).

    For a transposed convolution the input's positions take the place of the output's.

    Args:
        x_shape: The input's shape (N, C_in, ...).
        w_shape: The weight's shape.
        out_shape: The output's shape (N, C_out, ...).
        transposed: Whether the convolution is transposed.
    """
    batch = x_shape[0]
    positions = (x_shape if transposed else out_shape)[2:]
    return int(batch * prod(w_shape) * prod(positions))


def conv_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``_convolution(input, weight, bias, stride, padding, dilation, transposed, ...)``."""
    transposed = bool(_value(inputs[6])) if len(inputs) > 6 else False
    return conv_flop_count(
        get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0]), transposed=transposed
    )


def einsum_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``einsum(equation, [operands])``: the multiply-adds of numpy's optimal contraction path."""
    equation = str(_value(inputs[0])).replace(" ", "")
    operands = _value(inputs[1])
    shapes = [get_shape(operand) for operand in operands]
    # Letters renamed in order of appearance, so that "bij,bjk->bik" and "abc,acd->abd" match.
    letters = {
        c: chr(ord("a") + i)
        for i, c in enumerate(dict.fromkeys(c for c in equation if c.isalpha()))
    }
    equation = equation.translate(str.maketrans(letters))
    if equation == "abc,abd->acd":
        n, c, t = shapes[0]
        return n * c * t * shapes[1][2]
    if equation == "abc,adc->adb":
        n, t, g = shapes[0]
        return n * t * g * shapes[1][1]
    arrays = [np.zeros(shape) for shape in shapes]
    report = np.einsum_path(equation, *arrays, optimize="optimal")[1]
    for line in report.split("\n"):
        if "optimized flop" in line.lower():
            # numpy counts a multiply and an add; one multiply-add is one FLOP here.
            return int(np.floor(float(line.split(":")[-1]) / 2))
    raise RuntimeError(f"einsum_flop_jit: numpy's einsum_path gave no FLOP count for {equation!r}")


def matmul_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``matmul(a [..., N, C], b [..., C, D])``: elements of ``a`` times D."""
    shapes = [get_shape(value) for value in inputs[:2]]
    first, second = shapes
    if len(second) == 1:  # matrix times vector
        return prod(first)
    if first[-1] != second[-2]:
        raise ValueError(f"matmul_flop_jit: shapes {first} and {second} do not fit")
    return prod(first) * second[-1]


def norm_flop_counter(affine_arg_index: int) -> Handle:
    """A handle for a normalization: 4 FLOPs per element, 5 with an affine transform.

    Args:
        affine_arg_index: The position of the weight among the operator's inputs.
    """

    def _norm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
        has_affine = get_shape(inputs[affine_arg_index]) is not None
        return prod(get_shape(inputs[0])) * (5 if has_affine else 4)

    return _norm_flop_jit


def batchnorm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``batch_norm(input, weight, bias, mean, var, training, ...)``.

    Training computes the statistics (as :func:`norm_flop_counter`); inference is one multiply
    per element, two with an affine transform.
    """
    if _value(inputs[5]):
        return norm_flop_counter(1)(inputs, outputs)
    has_affine = get_shape(inputs[1]) is not None
    return prod(get_shape(inputs[0])) * (2 if has_affine else 1)


def elementwise_flop_counter(input_scale: float = 1, output_scale: float = 0) -> Handle:
    """A handle counting ``input_scale`` FLOPs per input element and ``output_scale`` per output one."""

    def _elementwise_flop(inputs: list[Any], outputs: list[Any]) -> int:
        count = 0.0
        if input_scale != 0:
            count += input_scale * prod(get_shape(inputs[0]))
        if output_scale != 0:
            count += output_scale * prod(get_shape(outputs[0]))
        return int(count)

    return _elementwise_flop
