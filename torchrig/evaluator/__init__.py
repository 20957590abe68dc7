"""Evaluation: ``Evaluator`` over ``BaseMetric`` subclasses (METRICS, EVALUATOR registries)."""

from __future__ import annotations

from torchrig.evaluator.evaluator import Evaluator
from torchrig.evaluator.metric import BaseMetric, DumpResults
from torchrig.evaluator.utils import get_metric_value

__all__ = ["BaseMetric", "DumpResults", "Evaluator", "get_metric_value"]
