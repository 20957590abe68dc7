"""Model complexity: FLOPs, activations and parameters, by module (MMEngine's ``mmengine.analysis``).

``get_model_complexity_info(model, input_shape=(3, 32, 32))`` gives the totals, a table by
module and the model's repr annotated with the counts. FLOPs count one multiply-add as one.
"""

from __future__ import annotations

from torchrig.analysis.complexity_analysis import (
    ActivationAnalyzer,
    FlopAnalyzer,
    activation_count,
    flop_count,
    parameter_count,
    parameter_count_table,
)
from torchrig.analysis.print_helper import get_model_complexity_info

__all__ = [
    "ActivationAnalyzer",
    "FlopAnalyzer",
    "activation_count",
    "flop_count",
    "get_model_complexity_info",
    "parameter_count",
    "parameter_count_table",
]
