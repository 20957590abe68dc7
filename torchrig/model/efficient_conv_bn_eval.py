"""Efficient conv + BatchNorm in eval mode: one convolution with the BN folded into its weights.

A frozen BatchNorm after a convolution (fine-tuning with ``norm_eval``) is an affine map per
channel, so conv then BN equals a convolution with rescaled weights and a shifted bias. Folding
it on the fly saves the memory of the convolution's output while gradients still reach the
convolution's weights and the BN's affine parameters.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = [
    "efficient_conv_bn_eval_control",
    "efficient_conv_bn_eval_forward",
    "efficient_conv_bn_eval_graph_transform",
    "turn_on_efficient_conv_bn_eval",
    "turn_on_efficient_conv_bn_eval_for_single_model",
]

_CONVS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def efficient_conv_bn_eval_forward(bn: nn.Module, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``bn(conv(x))`` for a BN in eval mode, computed as one convolution with folded weights.

    Args:
        bn: The BatchNorm (its running statistics are used).
        conv: The convolution before it.
        x: The input of the convolution.

    Returns:
        The output, equal to ``bn(conv(x))`` up to rounding.
    """
    ones = torch.ones_like(bn.running_var)
    zeros = torch.zeros_like(bn.running_var)
    conv_bias = conv.bias if conv.bias is not None else zeros
    bn_weight = bn.weight if bn.weight is not None else ones
    bn_bias = bn.bias if bn.bias is not None else zeros
    # The output channels are dimension 0 of a convolution's weight, 1 of a transposed one's.
    shape = [-1] + [1] * (conv.weight.ndim - 1)
    if isinstance(conv, _TRANSPOSED):
        shape[:2] = [1, -1]
    scale = (bn_weight * torch.rsqrt(bn.running_var + bn.eps)).reshape(shape)
    weight = conv.weight * scale
    bias = bn_bias + scale.flatten() * (conv_bias - bn.running_mean)
    return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (x,))


def efficient_conv_bn_eval_control(bn: nn.Module, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The folded path while ``bn`` is in eval mode, ``bn(conv(x))`` while it trains."""
    if not bn.training:
        return efficient_conv_bn_eval_forward(bn, conv, x)
    return bn(conv(x))


def efficient_conv_bn_eval_graph_transform(fx_model: Any) -> None:
    """Replaces, in place, each conv node followed by a BN node by one ``control`` call.

    A convolution whose output is also used elsewhere is left alone.

    Args:
        fx_model: A ``torch.fx.GraphModule``; it is recompiled.
    """
    modules = dict(fx_model.named_modules())
    pairs = []
    for node in fx_model.graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _NORMS):
            continue
        source = node.args[0] if node.args else None
        if not (hasattr(source, "op") and source.op == "call_module"):
            continue
        if isinstance(modules.get(source.target), _CONVS) and len(source.users) == 1:
            pairs.append((source, node))
    for conv_node, bn_node in pairs:
        with fx_model.graph.inserting_before(conv_node):
            get_conv = fx_model.graph.get_attr(conv_node.target)
            get_bn = fx_model.graph.get_attr(bn_node.target)
            fused = fx_model.graph.call_function(
                efficient_conv_bn_eval_control, (get_bn, get_conv, conv_node.args[0])
            )
        bn_node.replace_all_uses_with(fused)
        fx_model.graph.erase_node(bn_node)
        fx_model.graph.erase_node(conv_node)
    fx_model.graph.lint()
    fx_model.recompile()


def turn_on_efficient_conv_bn_eval_for_single_model(model: nn.Module) -> None:
    """Traces ``model`` with ``torch.fx.symbolic_trace`` and folds its conv + BN pairs.

    ``model.forward`` is replaced by the transformed graph's forward; parameters stay shared.
    """
    import torch.fx

    if getattr(model, "_torchrig_efficient_conv_bn_eval", False):  # traced once already
        return
    fx_model = torch.fx.symbolic_trace(model)
    efficient_conv_bn_eval_graph_transform(fx_model)
    model.forward = fx_model.forward  # type: ignore[method-assign]
    model._torchrig_efficient_conv_bn_eval = True


def turn_on_efficient_conv_bn_eval(model: nn.Module, modules: list[str] | str) -> None:
    """Folds conv + BN pairs of ``model``'s sub-modules named in ``modules`` (e.g. ``'backbone'``).

    Args:
        model: The model.
        modules: Names of sub-modules (each must be traceable by ``torch.fx``).
    """
    if isinstance(modules, str):
        modules = [modules]
    for name in modules:
        turn_on_efficient_conv_bn_eval_for_single_model(model.get_submodule(name))
