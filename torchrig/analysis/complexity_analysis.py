"""FLOP, activation and parameter counts (MMEngine's ``mmengine.analysis.complexity_analysis``).

FLOPs follow MMEngine's convention: one fused multiply-add is one FLOP, so a ``Linear(C, D)``
on N rows costs N * C * D. Activations are the output elements of convolutions and matrix
products.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from torch import nn

from torchrig.analysis.jit_analysis import JitModelAnalysis
from torchrig.analysis.jit_handles import (
    Handle,
    addmm_flop_jit,
    batchnorm_flop_jit,
    bmm_flop_jit,
    conv_flop_jit,
    einsum_flop_jit,
    elementwise_flop_counter,
    generic_activation_jit,
    linear_flop_jit,
    matmul_flop_jit,
    norm_flop_counter,
)

__all__ = [
    "ActivationAnalyzer",
    "FlopAnalyzer",
    "activation_count",
    "flop_count",
    "parameter_count",
    "parameter_count_table",
]

_DEFAULT_SUPPORTED_FLOP_OPS: dict[str, Handle] = {
    "aten::addmm": addmm_flop_jit,
    "aten::bmm": bmm_flop_jit,
    "aten::_convolution": conv_flop_jit,
    "aten::einsum": einsum_flop_jit,
    "aten::matmul": matmul_flop_jit,
    "aten::mm": matmul_flop_jit,
    "aten::linear": linear_flop_jit,
    # Inference often folds BatchNorm into the convolution: set_op_handle('aten::batch_norm',
    # None) leaves it out.
    "aten::batch_norm": batchnorm_flop_jit,
    "aten::group_norm": norm_flop_counter(2),
    "aten::layer_norm": norm_flop_counter(2),
    "aten::instance_norm": norm_flop_counter(1),
    "aten::upsample_nearest2d": elementwise_flop_counter(0, 1),
    "aten::upsample_bilinear2d": elementwise_flop_counter(0, 4),
    "aten::adaptive_avg_pool2d": elementwise_flop_counter(1, 0),
    "aten::grid_sampler": elementwise_flop_counter(0, 4),  # bilinear sampling
}

_DEFAULT_SUPPORTED_ACT_OPS: dict[str, Handle] = {
    "aten::_convolution": generic_activation_jit("conv"),
    "aten::addmm": generic_activation_jit(),
    "aten::bmm": generic_activation_jit(),
    "aten::einsum": generic_activation_jit(),
    "aten::matmul": generic_activation_jit(),
    "aten::linear": generic_activation_jit(),
}


class FlopAnalyzer(JitModelAnalysis):
    """FLOPs of a model by module and by operator (``total()``, ``by_module()``, ...).

    Args:
        model: The model.
        inputs: The arguments of ``model(*inputs)``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> FlopAnalyzer(nn.Linear(8, 4), (torch.randn(2, 8),)).total()
        64
    """

    def __init__(self, model: nn.Module, inputs: Any) -> None:
        super().__init__(model=model, inputs=inputs)
        self.set_op_handle(**_DEFAULT_SUPPORTED_FLOP_OPS)


class ActivationAnalyzer(JitModelAnalysis):
    """Activations (output elements of convolutions and matrix products) by module and operator.

    Args:
        model: The model.
        inputs: The arguments of ``model(*inputs)``.
    """

    def __init__(self, model: nn.Module, inputs: Any) -> None:
        super().__init__(model=model, inputs=inputs)
        self.set_op_handle(**_DEFAULT_SUPPORTED_ACT_OPS)


def _count_by_operator(
    analyzer: JitModelAnalysis, supported_ops: dict[str, Handle] | None, scale: float
) -> tuple[defaultdict[str, float], Counter]:
    if supported_ops:
        analyzer.set_op_handle(**supported_ops)
    counts = defaultdict(float, {op: n / scale for op, n in analyzer.by_operator().items()})
    return counts, analyzer.unsupported_ops()


def flop_count(
    model: nn.Module, inputs: tuple, supported_ops: dict[str, Handle] | None = None
) -> tuple[defaultdict[str, float], Counter]:
    """GFLOPs of ``model(*inputs)`` by operator.

    Args:
        model: The model.
        inputs: The arguments of the forward.
        supported_ops: Extra or replacing handles (``{'aten::xyz': handle}``).

    Returns:
        The GFLOPs by operator, and the counts of operators without a handle.
    """
    return _count_by_operator(FlopAnalyzer(model, inputs), supported_ops, 1e9)


def activation_count(
    model: nn.Module, inputs: tuple, supported_ops: dict[str, Handle] | None = None
) -> tuple[defaultdict[str, float], Counter]:
    """Mega-activations of ``model(*inputs)`` by operator.

    Args:
        model: The model.
        inputs: The arguments of the forward.
        supported_ops: Extra or replacing handles.

    Returns:
        The millions of activations by operator, and the counts of operators without a handle.
    """
    return _count_by_operator(ActivationAnalyzer(model, inputs), supported_ops, 1e6)


def parameter_count(model: nn.Module) -> defaultdict[str, int]:
    """Parameter counts of every module and parameter by name; ``''`` is the whole model.

    A parameter shared by two modules is counted once.

    Returns:
        Name -> number of parameter elements (``'conv'``, ``'conv.weight'``, ``''``, ...).
    """
    counts: defaultdict[str, int] = defaultdict(int)
    for name, param in model.named_parameters():
        parts = name.split(".")
        for i in range(len(parts) + 1):
            counts[".".join(parts[:i])] += param.numel()
    return counts


def parameter_count_table(model: nn.Module, max_depth: int = 3) -> str:
    """A table of the parameter counts of ``model``'s modules down to ``max_depth`` levels.

    Parameters themselves are listed with their shapes.

    Args:
        model: The model.
        max_depth: How many levels of sub-modules to list.

    Returns:
        The table as text.
    """
    from torchrig.analysis.print_helper import _format_size, _model_stats_table

    counts = parameter_count(model)
    stats = {"#elements or shape": {name: _format_size(n) for name, n in counts.items()}}
    shapes = {name: str(tuple(param.shape)) for name, param in model.named_parameters()}
    return _model_stats_table(stats, max_depth=max_depth, param_shapes=shapes, first_column="name")
