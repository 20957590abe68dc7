"""Runs a model once and reports each operator call with its ATen-style name and arguments.

torch's public ``TorchFunctionMode`` sees every ``torch``/``torch.nn.functional``/tensor
call a forward makes; forward pre/post hooks on the model's modules tell which module made it.
Each call is normalised to the ATen schema MMEngine's handles expect (``aten::_convolution``
with ``transposed`` at position 6, ``aten::batch_norm`` with ``training`` at 5, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__: list[str] = []

Call = tuple[str, list[Any], list[Any], tuple[str, ...]]


def _pick(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _conv(transposed: bool) -> Callable[[tuple, dict], list]:
    def normalize(args: tuple, kwargs: dict) -> list:
        x, w = _pick(args, kwargs, 0, "input"), _pick(args, kwargs, 1, "weight")
        return [x, w, _pick(args, kwargs, 2, "bias"), None, None, None, transposed, None, None]

    return normalize


def _positional(*names: str) -> Callable[[tuple, dict], list]:
    def normalize(args: tuple, kwargs: dict) -> list:
        return [_pick(args, kwargs, i, name) for i, name in enumerate(names)]

    return normalize


def _batch_norm(args: tuple, kwargs: dict) -> list:
    x, mean, var, weight, bias, training, momentum, eps = _positional(
        "input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"
    )(args, kwargs)
    return [x, weight, bias, mean, var, bool(training), momentum, eps, None]


def _instance_norm(args: tuple, kwargs: dict) -> list:
    x, mean, var, weight, bias, use_stats, momentum, eps = _positional(
        "input",
        "running_mean",
        "running_var",
        "weight",
        "bias",
        "use_input_stats",
        "momentum",
        "eps",
    )(args, kwargs)
    return [x, weight, bias, mean, var, use_stats, momentum, eps, None]


def _einsum(args: tuple, kwargs: dict) -> list:
    operands = args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return [args[0], list(operands)]


# torch function name -> (ATen name, how its arguments map onto the ATen schema)
_OPS: dict[str, tuple[str, Callable[[tuple, dict], list]]] = {
    **{f"conv{n}d": ("aten::_convolution", _conv(False)) for n in (1, 2, 3)},
    **{f"conv_transpose{n}d": ("aten::_convolution", _conv(True)) for n in (1, 2, 3)},
    "linear": ("aten::linear", _positional("input", "weight", "bias")),
    "addmm": ("aten::addmm", _positional("input", "mat1", "mat2")),
    "bmm": ("aten::bmm", _positional("input", "mat2")),
    "mm": ("aten::mm", _positional("input", "mat2")),
    "matmul": ("aten::matmul", _positional("input", "other")),
    "__matmul__": ("aten::matmul", _positional("input", "other")),
    "einsum": ("aten::einsum", _einsum),
    "batch_norm": ("aten::batch_norm", _batch_norm),
    "instance_norm": ("aten::instance_norm", _instance_norm),
    "group_norm": ("aten::group_norm", _positional("input", "num_groups", "weight", "bias")),
    "layer_norm": ("aten::layer_norm", _positional("input", "normalized_shape", "weight", "bias")),
    "adaptive_avg_pool2d": ("aten::adaptive_avg_pool2d", _positional("input", "output_size")),
    "grid_sample": ("aten::grid_sampler", _positional("input", "grid")),
}

# Calls that are no operator of the model (attribute reads, shape queries, conversions).
_NOT_OPERATORS = frozenset(
    {"__get__", "__set__", "size", "dim", "numel", "__len__", "__iter__", "__bool__",
     "__format__", "__repr__", "__hash__", "__index__", "__int__", "__float__", "tolist",
     "item", "is_floating_point", "is_contiguous", "data_ptr", "element_size", "__eq__",
     "stride", "storage_offset", "is_complex"}
)  # fmt: skip


def _aten_name(name: str, args: tuple, kwargs: dict) -> tuple[str, list]:
    if name in _OPS:
        kind, normalize = _OPS[name]
        return kind, normalize(args, kwargs)
    if name == "interpolate":
        x = _pick(args, kwargs, 0, "input")
        mode = _pick(args, kwargs, 3, "mode", "nearest")
        spatial = max(getattr(x, "ndim", 4) - 2, 1)
        return f"aten::upsample_{mode}{spatial}d", [x]
    return "aten::" + name.strip("_"), list(args)


def _outputs(result: Any) -> list[Any]:
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, torch.Tensor)]
    return [result]


class _Recorder(TorchFunctionMode):
    def __init__(self, on_call: Callable[[Call], None], scopes: list[str]) -> None:
        super().__init__()
        self._on_call = on_call
        self._scopes = scopes

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _NOT_OPERATORS or not isinstance(result, (torch.Tensor, tuple, list)):
            return result
        if isinstance(result, (tuple, list)) and not any(
            isinstance(r, torch.Tensor) for r in result
        ):
            return result
        kind, inputs = _aten_name(name, args, kwargs)
        self._on_call((kind, inputs, _outputs(result), tuple(self._scopes)))
        return result


@contextmanager
def _module_scopes(model: nn.Module, scopes: list[str], called: set[str]) -> Iterator[None]:
    """Keeps ``scopes`` the stack of the model's modules running now (by canonical name)."""
    handles = []
    for name, module in model.named_modules():

        def enter(module: nn.Module, args: Any, name: str = name) -> None:
            scopes.append(name)
            called.add(name)

        def leave(module: nn.Module, args: Any, output: Any) -> None:
            scopes.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave, always_call=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_and_record(model: nn.Module, inputs: Any, on_call: Callable[[Call], None]) -> set[str]:
    """Runs ``model(*inputs)`` without gradients, reporting every operator call to ``on_call``.

    Returns:
        The names of the modules that were called.
    """
    scopes: list[str] = []
    called: set[str] = set()
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    with torch.no_grad(), _module_scopes(model, scopes, called), _Recorder(on_call, scopes):
        model(*args)
    return called
