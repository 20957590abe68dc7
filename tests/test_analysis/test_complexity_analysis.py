"""FLOPs, activations and parameters against hand-computed counts (one multiply-add = one FLOP)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn

from torchrig.analysis import (
    ActivationAnalyzer,
    FlopAnalyzer,
    activation_count,
    flop_count,
    get_model_complexity_info,
    parameter_count,
    parameter_count_table,
)
from torchrig.analysis.jit_analysis import JitModelAnalysis
from torchrig.analysis.jit_handles import conv_flop_count, einsum_flop_jit, get_shape


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, 10)
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(self.stem(x))
        return self.head(self.pool(x).flatten(1))


# Input 2 x 3 x 8 x 8.
STEM_CONV = 2 * (8 * 3 * 3 * 3) * (8 * 8)  # batch * weight elements * output positions
STEM_BN = 2 * 8 * 8 * 8 * 2  # eval, affine: 2 per element
DOWN = 2 * (16 * 8 * 3 * 3) * (4 * 4)
POOL = 2 * 16 * 4 * 4  # adaptive_avg_pool2d: one per input element
HEAD = 2 * 16 * 10


def test_linear_and_conv2d_flops_are_multiply_adds():
    linear = FlopAnalyzer(nn.Linear(8, 4), (torch.randn(5, 8),))
    assert linear.total() == 5 * 8 * 4
    assert linear.by_operator() == Counter({"linear": 160})
    conv = FlopAnalyzer(nn.Conv2d(3, 6, kernel_size=3), (torch.randn(1, 3, 10, 10),))
    assert conv.total() == 6 * 3 * 3 * 3 * 8 * 8
    transposed = FlopAnalyzer(nn.ConvTranspose2d(4, 2, 3), (torch.randn(1, 4, 5, 5),))
    assert transposed.total() == 4 * 2 * 3 * 3 * 5 * 5  # input positions for a transposed conv


def test_small_cnn_by_module_and_by_operator():
    model = SmallCNN().eval()
    flops = FlopAnalyzer(model, (torch.randn(2, 3, 8, 8),))
    by_module = flops.by_module()
    assert by_module["stem.0"] == STEM_CONV
    assert by_module["stem.1"] == STEM_BN
    assert by_module["stem"] == STEM_CONV + STEM_BN
    assert by_module["down"] == DOWN
    assert by_module["pool"] == POOL
    assert by_module["head"] == HEAD
    assert flops.total() == STEM_CONV + STEM_BN + DOWN + POOL + HEAD
    assert flops.total("stem") == STEM_CONV + STEM_BN
    assert flops.by_operator("stem") == Counter({"conv": STEM_CONV, "batch_norm": STEM_BN})
    assert flops.uncalled_modules() == {"unused"}
    assert flops.unsupported_ops() == Counter()  # relu, flatten: ignored
    # Batch norm folded at inference: leave it out.
    assert flops.set_op_handle("aten::batch_norm", None).total("stem") == STEM_CONV


def test_training_batch_norm_counts_the_statistics():
    model = nn.BatchNorm2d(4).train()
    assert FlopAnalyzer(model, (torch.randn(2, 4, 3, 3),)).total() == 2 * 4 * 9 * 5


def test_activations_are_output_elements_of_convs_and_matmuls():
    model = SmallCNN().eval()
    acts = ActivationAnalyzer(model, (torch.randn(2, 3, 8, 8),))
    assert acts.by_module()["stem"] == 2 * 8 * 8 * 8
    assert acts.by_module()["down"] == 2 * 16 * 4 * 4
    assert acts.by_module()["head"] == 2 * 10
    assert acts.by_operator() == Counter({"conv": 1024 + 512, "linear": 20})
    assert acts.unsupported_ops()["aten::batch_norm"] == 1


def test_matmul_bmm_einsum_and_custom_handles():
    class Attention(nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
            scores = torch.matmul(q, k.transpose(-1, -2))  # 2x4x3 @ 2x3x4
            mixed = torch.bmm(scores, k)  # 2x4x4 @ 2x4x3
            return torch.einsum("bij,bjk->bik", mixed, k.transpose(1, 2)) + scores.sigmoid()

    q, k = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    flops = FlopAnalyzer(Attention(), (q, k))
    assert flops.by_operator() == Counter(
        {"matmul": 2 * 4 * 3 * 4, "bmm": 2 * 4 * 4 * 3, "einsum": 2 * 4 * 3 * 4}
    )
    assert flops.unsupported_ops() == Counter({"aten::add": 1, "aten::sigmoid": 1})
    flops.set_op_handle("aten::sigmoid", lambda inputs, outputs: 3 * get_shape(outputs[0])[0])
    assert flops.by_operator()["sigmoid"] == 6
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


def test_handles_accept_shapes_as_mmengine_calls_them():
    assert conv_flop_count([1, 3, 5, 5], [4, 3, 3, 3], [1, 4, 3, 3]) == 4 * 27 * 9
    assert (
        einsum_flop_jit(["abc,abd->acd", [torch.zeros(2, 3, 4), torch.zeros(2, 3, 5)]], [])
        == 2 * 4 * 3 * 5
    )


def test_flop_count_and_activation_count_scale_to_giga_and_mega():
    gflops, unsupported = flop_count(nn.Linear(10, 10), (torch.randn(1000, 10),))
    assert gflops == {"linear": pytest.approx(1e5 / 1e9)} and not unsupported
    macts, _ = activation_count(nn.Linear(10, 10), (torch.randn(1000, 10),))
    assert macts == {"linear": pytest.approx(1e4 / 1e6)}


def test_parameter_count_by_prefix_and_shared_parameters_once():
    model = SmallCNN()
    counts = parameter_count(model)
    assert counts["stem.0.weight"] == 216 and counts["stem.0"] == 224
    assert counts["stem"] == 224 + 16
    assert counts[""] == sum(p.numel() for p in model.parameters())
    shared = nn.Sequential(nn.Linear(3, 3))
    shared.append(shared[0])
    assert parameter_count(shared)[""] == 12
    table = parameter_count_table(model, max_depth=1)
    assert "| model" in table and "stem " in table and "0.24K" in table


def test_get_model_complexity_info_matches_mmengine_keys():
    model = SmallCNN().eval()
    info = get_model_complexity_info(model, input_shape=(3, 8, 8))
    assert set(info) == {
        "flops", "flops_str", "activations", "activations_str", "params", "params_str",
        "out_table", "out_arch",
    }  # fmt: skip
    assert info["flops"] == (STEM_CONV + STEM_BN + DOWN + POOL + HEAD) // 2
    assert info["params"] == parameter_count(model)[""]
    assert info["params"] == 224 + 16 + 1152 + 170 + 6 and info["params_str"] == "1.568K"
    assert "#flops" in info["out_table"] and "down" in info["out_table"]
    assert "#params:" in info["out_arch"] and "(head): Linear(" in info["out_arch"]
    two = get_model_complexity_info(
        model, inputs=(torch.randn(1, 3, 8, 8),), show_table=False, show_arch=False
    )
    assert two["flops"] == info["flops"] and two["out_table"] == "" and two["out_arch"] == ""
    with pytest.raises(ValueError, match="should be set"):
        get_model_complexity_info(model)
    with pytest.raises(ValueError, match="cannot be both set"):
        get_model_complexity_info(model, (3, 8, 8), torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="tuple of int"):
        get_model_complexity_info(model, input_shape=("3",))


def test_shared_module_is_counted_under_its_first_name():
    layer = nn.Linear(4, 4)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    analysis = FlopAnalyzer(model, (torch.randn(1, 4),))
    assert analysis.by_module()["0"] == 32 and analysis.canonical_module_name("2") == "0"
    assert isinstance(analysis.copy(new_inputs=(torch.randn(2, 4),)), JitModelAnalysis)
    assert analysis.copy(new_inputs=(torch.randn(2, 4),)).total() == 64


def test_norms_upsampling_and_pooling():
    import torch.nn.functional as F

    class Layers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln, self.gn, self.inorm = nn.LayerNorm(8), nn.GroupNorm(2, 4), nn.InstanceNorm2d(4)

        def forward(self, x, y):
            return (
                self.ln(x), self.gn(y), self.inorm(y),
                F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False),
                F.interpolate(y, scale_factor=2, mode="nearest"), F.adaptive_avg_pool2d(y, 1),
            )  # fmt: skip

    flops = FlopAnalyzer(Layers(), (torch.randn(3, 8), torch.randn(2, 4, 5, 5)))
    assert flops.by_operator() == Counter(
        {
            "layer_norm": 24 * 5,  # affine: 5 per element
            "group_norm": 200 * 5,
            "instance_norm": 200 * 4,  # no affine: 4 per element
            "upsample_bilinear2d": 800 * 4,  # 4 per output element
            "upsample_nearest2d": 800,
            "adaptive_avg_pool2d": 200,  # 1 per input element
        }
    )
