"""Complexity reports: a table by module and the model's repr annotated with its counts."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchrig.analysis.complexity_analysis import (
    ActivationAnalyzer,
    FlopAnalyzer,
    parameter_count,
)

__all__ = ["complexity_stats_str", "complexity_stats_table", "get_model_complexity_info"]


def _format_size(x: int | float, sig_figs: int = 3, hide_zero: bool = False) -> str:
    """``x`` with a K/M/G/T/P suffix and ``sig_figs`` decimals (``1234567`` -> ``'1.235M'``)."""
    if hide_zero and x == 0:
        return ""

    def fmt(value: float) -> str:
        return f"{value:.{sig_figs}f}".rstrip("0").rstrip(".")

    for limit, scale, suffix in (
        (1e14, 1e15, "P"),
        (1e11, 1e12, "T"),
        (1e8, 1e9, "G"),
        (1e5, 1e6, "M"),
        (1e2, 1e3, "K"),
    ):
        if abs(x) > limit:
            return fmt(x / scale) + suffix
    return str(x)


def _depth(name: str) -> int:
    return name.count(".") + 1 if name else 0


def _model_stats_table(
    statistics: dict[str, dict[str, str]],
    max_depth: int,
    param_shapes: dict[str, str] | None,
    first_column: str = "module",
) -> str:
    """Rows ``module | stat1 | stat2 ...`` for modules down to ``max_depth``, indented by depth."""
    columns = list(statistics)
    names = sorted(
        {name for stat in statistics.values() for name in stat if _depth(name) <= max_depth},
        key=lambda n: n.split("."),
    )
    names = [n for n in names if n not in (param_shapes or {})]
    rows = []
    for name in names:
        label = " " * _depth(name) + (name or "model")
        rows.append([label, *[statistics[column].get(name, "") for column in columns]])
        if param_shapes is not None and _depth(name) == max_depth or _is_leaf(name, names):
            for param, shape in (param_shapes or {}).items():
                if param.rsplit(".", 1)[0] == name or ("." not in param and name == ""):
                    rows.append(
                        [" " * (_depth(name) + 1) + param, shape, *[""] * (len(columns) - 1)]
                    )
    header = [first_column, *columns]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([rule, line(header), rule, *[line(r) for r in rows], rule])


def _is_leaf(name: str, names: list[str]) -> bool:
    prefix = name + "." if name else ""
    return not any(other != name and other.startswith(prefix) for other in names)


def complexity_stats_table(
    flops: FlopAnalyzer,
    max_depth: int = 3,
    activations: ActivationAnalyzer | None = None,
    show_param_shapes: bool = True,
) -> str:
    """A table of parameters, FLOPs (and activations) by module.

    Args:
        flops: The FLOP analysis of the model.
        max_depth: How many levels of sub-modules to list.
        activations: The activation analysis, for an ``#activations`` column.
        show_param_shapes: List the parameters of the deepest listed modules with their shapes.

    Returns:
        The table as text.
    """
    params = parameter_count(flops._model)
    flop_counts = flops.by_module()
    stats = {
        "#parameters or shape": {name: _format_size(n) for name, n in params.items()},
        "#flops": {name: _format_size(n, hide_zero=True) for name, n in flop_counts.items()},
    }
    if activations is not None:
        stats["#activations"] = {
            name: _format_size(n, hide_zero=True) for name, n in activations.by_module().items()
        }
    for name in flop_counts:
        stats["#parameters or shape"].setdefault(name, "")
    shapes = None
    if show_param_shapes:
        shapes = {name: str(tuple(p.shape)) for name, p in flops._model.named_parameters()}
    return _model_stats_table(stats, max_depth=max_depth, param_shapes=shapes)


def complexity_stats_str(flops: FlopAnalyzer, activations: ActivationAnalyzer | None = None) -> str:
    """The model's repr with each module's ``#params``, ``#flops`` (and ``#acts``) written in.

    Args:
        flops: The FLOP analysis of the model.
        activations: The activation analysis, for ``#acts``.

    Returns:
        The annotated repr.
    """
    params = parameter_count(flops._model)
    flop_counts = flops.by_module()
    act_counts = activations.by_module() if activations is not None else None

    def stats(name: str) -> str:
        parts = [f"#params: {_format_size(params.get(name, 0))}"]
        parts.append(f"#flops: {_format_size(flop_counts.get(name, 0))}")
        if act_counts is not None:
            parts.append(f"#acts: {_format_size(act_counts.get(name, 0))}")
        return ", ".join(parts)

    def render(module: nn.Module, name: str) -> str:
        lines = [line for line in [module.extra_repr(), stats(name)] if line]
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            lines.append(f"({child_name}): " + render(child, full))
        body = "\n".join(lines).replace("\n", "\n  ")
        return f"{type(module).__name__}(\n  {body}\n)"

    return render(flops._model, "")


def _make_inputs(model: nn.Module, input_shape: tuple) -> tuple:
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    if all(isinstance(size, int) for size in input_shape):
        return (torch.randn(1, *input_shape, device=device),)
    if all(
        isinstance(shape, tuple) and all(isinstance(s, int) for s in shape) for shape in input_shape
    ):
        return tuple(torch.randn(1, *shape, device=device) for shape in input_shape)
    raise ValueError(
        '"input_shape" should be either a `tuple of int` (to construct one input tensor) or a '
        "`tuple of tuple of int` (to construct multiple input tensors)."
    )


def get_model_complexity_info(
    model: nn.Module,
    input_shape: tuple | None = None,
    inputs: torch.Tensor | tuple[Any, ...] | None = None,
    show_table: bool = True,
    show_arch: bool = True,
) -> dict:
    """FLOPs, activations and parameters of ``model``, with a table and an annotated repr.

    Args:
        model: The model.
        input_shape: The shape of one input without the batch dimension (``(3, 224, 224)``), or
            a tuple of such shapes for several inputs; random inputs of batch 1 are made.
        inputs: The forward's inputs themselves (a tensor or a tuple); give this or
            ``input_shape``.
        show_table: Fill ``out_table``.
        show_arch: Fill ``out_arch``.

    Returns:
        ``dict(flops, flops_str, activations, activations_str, params, params_str, out_table,
        out_arch)``; the ``*_str`` values are formatted (``'1.235M'``).

    Raises:
        ValueError: Neither or both of ``input_shape`` and ``inputs`` are given.
    """
    if input_shape is None and inputs is None:
        raise ValueError('One of "input_shape" and "inputs" should be set.')
    if input_shape is not None and inputs is not None:
        raise ValueError('"input_shape" and "inputs" cannot be both set.')
    if inputs is None:
        inputs = _make_inputs(model, input_shape)
    flop_handler = FlopAnalyzer(model, inputs)
    activation_handler = ActivationAnalyzer(model, inputs)
    flops = flop_handler.total()
    activations = activation_handler.total()
    params = parameter_count(model)[""]
    out_table = ""
    if show_table:
        out_table = "\n" + complexity_stats_table(
            flops=flop_handler, activations=activation_handler, show_param_shapes=True
        )
    out_arch = ""
    if show_arch:
        out_arch = "\n" + complexity_stats_str(flops=flop_handler, activations=activation_handler)
    return {
        "flops": flops,
        "flops_str": _format_size(flops),
        "activations": activations,
        "activations_str": _format_size(activations),
        "params": params,
        "params_str": _format_size(params),
        "out_table": out_table,
        "out_arch": out_arch,
    }
