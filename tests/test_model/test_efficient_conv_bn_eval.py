"""Efficient conv + BN in eval mode: the folded convolution equals conv then BN, gradients flow."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from torchrig.model.efficient_conv_bn_eval import (
    efficient_conv_bn_eval_control,
    efficient_conv_bn_eval_forward,
    turn_on_efficient_conv_bn_eval,
    turn_on_efficient_conv_bn_eval_for_single_model,
)


def _random_bn(bn: nn.Module) -> nn.Module:
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2.0)
    if bn.weight is not None:
        nn.init.uniform_(bn.weight, 0.5, 2.0)
        nn.init.uniform_(bn.bias, -1, 1)
    return bn


class Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn1 = _random_bn(nn.BatchNorm2d(4))
        self.conv2 = nn.ConvTranspose2d(4, 2, 3, bias=False)
        self.bn2 = _random_bn(nn.BatchNorm2d(2, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(2 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).flatten(1))


@pytest.mark.parametrize(
    ("conv", "bn"),
    [
        (nn.Conv2d(3, 5, 3, bias=True), nn.BatchNorm2d(5)),
        (nn.Conv2d(3, 5, 3, bias=False), nn.BatchNorm2d(5, affine=False)),
        (nn.Conv1d(3, 5, 3), nn.BatchNorm1d(5)),
        (nn.ConvTranspose2d(3, 5, 3, groups=1), nn.BatchNorm2d(5)),
    ],
)
def test_folded_forward_equals_conv_then_bn(conv, bn):
    torch.manual_seed(0)
    bn = _random_bn(bn).eval()
    x = (
        torch.randn(2, 3, 9, 9)
        if isinstance(conv, nn.Conv2d | nn.ConvTranspose2d)
        else torch.randn(2, 3, 9)
    )
    expected = bn(conv(x))
    torch.testing.assert_close(
        efficient_conv_bn_eval_forward(bn, conv, x), expected, rtol=1e-5, atol=1e-5
    )


def test_turned_on_model_matches_and_gradients_reach_the_conv_weights():
    torch.manual_seed(0)
    model = Model().eval()
    reference = copy.deepcopy(model)
    turn_on_efficient_conv_bn_eval(model, "backbone")
    assert "efficient_conv_bn_eval_control" in model.backbone.forward.__self__.code
    x = torch.randn(2, 3, 8, 8)
    out, expected = model(x), reference(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    out.square().sum().backward()
    expected.square().sum().backward()
    for (name, param), ref in zip(model.named_parameters(), reference.parameters()):
        assert param.grad is not None, name
        torch.testing.assert_close(param.grad, ref.grad, rtol=1e-4, atol=1e-5)
    assert model.backbone.bn1.running_mean.equal(reference.backbone.bn1.running_mean)


def test_training_bn_takes_the_plain_path_and_updates_its_statistics():
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).train()
    before = bn.running_mean.clone()
    x = torch.randn(2, 3, 6, 6)
    out = efficient_conv_bn_eval_control(bn, conv, x)
    assert out.shape == (2, 4, 4, 4) and not bn.running_mean.equal(before)


def test_a_conv_whose_output_is_used_twice_is_not_folded():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.bn = nn.BatchNorm2d(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y

    model = Shared().eval()
    turn_on_efficient_conv_bn_eval_for_single_model(model)
    assert "efficient_conv_bn_eval_control" not in model.forward.__self__.code
