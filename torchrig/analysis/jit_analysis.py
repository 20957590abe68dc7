"""JitModelAnalysis: per-module, per-operator counts over one run of a model.

The model runs once on the given inputs; every operator it calls is looked up in the op handles
(``'aten::_convolution'`` -> a function of the call's inputs and outputs, see
:mod:`torchrig.analysis.jit_handles`) and the count is added to the module that called it and
to that module's ancestors. Operators with no handle are reported as unsupported, except the
cheap ones listed in ``_IGNORED_OPS``.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Iterable
from numbers import Number
from typing import Any, NamedTuple, TypeVar

from torch import nn

from torchrig.analysis._recorder import Call, run_and_record
from torchrig.analysis.jit_handles import Handle

__all__ = ["JitModelAnalysis", "Statistics", "T"]

T = TypeVar("T", bound="JitModelAnalysis")

_logger = logging.getLogger("torchrig.analysis")

# Operators that cost (next to) nothing: views, copies, comparisons, index arithmetic.
_IGNORED_OPS: set[str] = {
    "aten::Int", "aten::ScalarImplicit", "aten::and", "aten::arange", "aten::bitwise_not",
    "aten::cat", "aten::chunk", "aten::clamp", "aten::clamp_", "aten::constant_pad_nd",
    "aten::contiguous", "aten::copy_", "aten::detach", "aten::dropout", "aten::empty",
    "aten::eq", "aten::expand", "aten::flatten", "aten::floor", "aten::floor_divide",
    "aten::full", "aten::full_like", "aten::gather", "aten::ge", "aten::gt", "aten::index",
    "aten::index_put_", "aten::max", "aten::nonzero", "aten::permute", "aten::relu",
    "aten::relu_", "aten::remainder", "aten::reshape", "aten::select", "aten::size",
    "aten::slice", "aten::split", "aten::split_with_sizes", "aten::squeeze", "aten::narrow",
    "aten::unbind", "aten::stack", "aten::t", "aten::to", "aten::transpose", "aten::unsqueeze",
    "aten::unsqueeze_", "aten::view", "aten::zeros", "aten::zeros_like", "aten::getitem",
    "aten::setitem", "aten::dropout1d", "aten::dropout2d", "aten::type", "aten::float",
    "aten::cpu", "aten::cuda", "aten::clone", "aten::view_as", "aten::expand_as",
}  # fmt: skip


class Statistics(NamedTuple):
    """What one analysis found.

    Attributes:
        counts: For each module name, the counts by operator.
        unsupported_ops: For each module name, the calls of operators without a handle.
        uncalled_modules: Modules the run never called.
    """

    counts: dict[str, Counter]
    unsupported_ops: dict[str, Counter]
    uncalled_modules: set[str]


def _simplify_op_name(kind: str) -> str:
    """``'aten::batch_norm'`` -> ``'batch_norm'``; a convolution is ``'conv'``."""
    name = kind.split("::", 1)[-1]
    return "conv" if name == "_convolution" else name


class JitModelAnalysis:
    """Counts (FLOPs, activations, ...) of a model's operators, by module and by operator.

    Args:
        model: The model to analyse.
        inputs: The arguments of ``model(*inputs)`` (a single tensor stands for a 1-tuple).
    """

    def __init__(self, model: nn.Module, inputs: Any) -> None:
        self._model = model
        self._inputs = inputs
        self._op_handles: dict[str, Handle | None] = {}
        self._named_modules = {name: module for name, module in model.named_modules()}
        self._aliases = {
            module: name
            for name, module in reversed(list(model.named_modules(remove_duplicate=False)))
        }
        self._stats: Statistics | None = None
        self._enable_warn_unsupported_ops = True
        self._enable_warn_uncalled_mods = True
        self._warn_trace = "no_tracer_warning"
        self._ancestor_mode = "owner"
        self._ignored_ops: set[str] = copy.copy(_IGNORED_OPS)

    # -- configuration -------------------------------------------------------------------
    def set_op_handle(self: T, *args: Any, **kwargs: Handle | None) -> T:
        """Sets handles: ``set_op_handle('aten::addmm', fn, 'aten::bmm', fn2)`` or keywords.

        A handle of None ignores the operator (it is not reported as unsupported).

        Returns:
            This analysis (the counts are recomputed when next read).
        """
        if len(args) % 2 != 0:
            raise TypeError("set_op_handle takes pairs of operator name and handle")
        self._stats = None
        handles = dict(zip(args[0::2], args[1::2]))
        handles.update(kwargs)
        self._op_handles.update(handles)
        return self

    def clear_op_handles(self: T) -> T:
        """Removes every handle."""
        self._op_handles = {}
        self._stats = None
        return self

    def unsupported_ops_warnings(self: T, enabled: bool) -> T:
        """Whether to log the operators without a handle (on by default)."""
        self._enable_warn_unsupported_ops = enabled
        return self

    def uncalled_modules_warnings(self: T, enabled: bool) -> T:
        """Whether to log the modules the run never called (on by default)."""
        self._enable_warn_uncalled_mods = enabled
        return self

    def tracer_warnings(self: T, mode: str) -> T:
        """MMEngine's tracer-warning setting (``'none'``, ``'no_tracer_warning'``, ``'all'``).

        Kept for compatibility: the model is run, not traced, so there are no tracer warnings.
        """
        if mode not in ("all", "no_tracer_warning", "none"):
            raise ValueError(f"Unrecognized tracer warning mode {mode}.")
        self._warn_trace = mode
        return self

    def ancestor_mode(self: T, mode: str) -> T:
        """Which modules an operator's count is added to besides the one that ran it.

        Args:
            mode: ``'owner'`` (default): the module's ancestors by name (``'a'`` for ``'a.b'``);
                ``'caller'``: the modules on the call stack.
        """
        if mode not in ("owner", "caller"):
            raise ValueError(f"Unrecognized ancestor mode: {mode}")
        self._ancestor_mode = mode
        self._stats = None
        return self

    def copy(self: T, new_model: nn.Module | None = None, new_inputs: Any = None) -> T:
        """A new analysis with the same settings, for another model or other inputs."""
        model = self._model if new_model is None else new_model
        inputs = self._inputs if new_inputs is None else new_inputs
        analysis = type(self).__new__(type(self))
        JitModelAnalysis.__init__(analysis, model, inputs)
        analysis._op_handles = dict(self._op_handles)
        analysis._ignored_ops = set(self._ignored_ops)
        analysis._enable_warn_unsupported_ops = self._enable_warn_unsupported_ops
        analysis._enable_warn_uncalled_mods = self._enable_warn_uncalled_mods
        analysis._warn_trace = self._warn_trace
        analysis._ancestor_mode = self._ancestor_mode
        return analysis

    def canonical_module_name(self, name: str) -> str:
        """The name a module is counted under (the first of its names when it is shared)."""
        module = dict(self._model.named_modules(remove_duplicate=False)).get(name)
        if module is None:
            raise KeyError(f"Requested module name {name!r} is not among the model's modules")
        return self._aliases[module]

    # -- results ---------------------------------------------------------------------------
    def total(self, module_name: str = "") -> int:
        """The total count of ``module_name`` (the whole model by default)."""
        return sum(self.by_module_and_operator()[self.canonical_module_name(module_name)].values())

    def by_operator(self, module_name: str = "") -> Counter:
        """The counts of ``module_name`` by operator (``'conv'``, ``'linear'``, ...)."""
        return Counter(self.by_module_and_operator()[self.canonical_module_name(module_name)])

    def by_module_and_operator(self) -> dict[str, Counter]:
        """For every module name, its counts by operator."""
        return self._analyze().counts

    def by_module(self) -> Counter:
        """The total count of every module, by name (``''`` is the model)."""
        return Counter(
            {name: sum(counts.values()) for name, counts in self._analyze().counts.items()}
        )

    def unsupported_ops(self, module_name: str = "") -> Counter:
        """How often ``module_name`` called each operator that has no handle."""
        return Counter(self._analyze().unsupported_ops[self.canonical_module_name(module_name)])

    def uncalled_modules(self) -> set[str]:
        """Modules the run never called (a sub-module used only in training, ...)."""
        return set(self._analyze().uncalled_modules)

    # -- the run ---------------------------------------------------------------------------
    def _owners(self, scopes: tuple[str, ...]) -> Iterable[str]:
        if self._ancestor_mode == "caller":
            return {"", *scopes}
        innermost = scopes[-1] if scopes else ""
        parts = innermost.split(".") if innermost else []
        return {".".join(parts[:i]) for i in range(len(parts) + 1)}

    def _analyze(self) -> Statistics:
        if self._stats is not None:
            return self._stats
        counts = {name: Counter() for name in self._named_modules}
        unsupported = {name: Counter() for name in self._named_modules}

        def on_call(call: Call) -> None:
            kind, inputs, outputs, scopes = call
            if kind in self._op_handles:
                handle = self._op_handles[kind]
                if handle is None:
                    return
                result = handle(inputs, outputs)
                if isinstance(result, Number):
                    result = Counter({_simplify_op_name(kind): result})
                for owner in self._owners(scopes):
                    counts[owner].update(result)
            elif kind not in self._ignored_ops:
                for owner in self._owners(scopes):
                    unsupported[owner][kind] += 1

        called = run_and_record(self._model, self._inputs, on_call)
        uncalled = set(self._named_modules) - called - {""}
        # A module with no parameters of its own and no calls hides nothing worth reporting.
        uncalled = {name for name in uncalled if not any(n.startswith(name + ".") for n in called)}
        self._stats = Statistics(counts, unsupported, uncalled)
        self._warn(self._stats)
        return self._stats

    def _warn(self, stats: Statistics) -> None:
        if self._enable_warn_unsupported_ops and stats.unsupported_ops[""]:
            for op, freq in stats.unsupported_ops[""].items():
                _logger.warning("Unsupported operator %s encountered %d time(s)", op, freq)
        if self._enable_warn_uncalled_mods and stats.uncalled_modules:
            _logger.warning(
                "The following submodules of the model were never called during the run: %s",
                ", ".join(sorted(stats.uncalled_modules)),
            )
